"""Time training iterations of a config, split into data / forward / backward / optimizer."""
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.structures import InstanceData

from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample


@dataclass
class StepTimes:
    """Seconds per phase of every measured iteration."""

    data: List[float] = field(default_factory=list)
    forward: List[float] = field(default_factory=list)
    backward: List[float] = field(default_factory=list)
    optimizer: List[float] = field(default_factory=list)
    first_step: float = 0.0   # seconds of the first (warm-up) step: graph compilation when compiled

    @property
    def total(self) -> List[float]:
        return [sum(parts) for parts in zip(self.data, self.forward, self.backward, self.optimizer)]


def synthetic_batch(batch_size: int, input_size: int, num_classes: int, boxes_per_image: int = 7,
                    seed: int = 0) -> dict:
    """A training batch as ``PackDetInputs`` + ``pseudo_collate`` give it: float32 images (the
    output of ``PhotoMetricDistortion``'s default arithmetic) and random boxes.

    Returns ``dict(inputs=list[float32 Tensor[3, S, S]], data_samples=list[DetDataSample])``,
    boxes xyxy in pixels of the ``S x S`` input.
    """
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for index in range(batch_size):
        image = torch.randint(0, 256, (3, input_size, input_size), dtype=torch.uint8, generator=generator)
        inputs.append(image.float())
        centres = torch.rand(boxes_per_image, 2, generator=generator) * input_size
        sizes = (0.1 + 0.5 * torch.rand(boxes_per_image, 2, generator=generator)) * input_size
        boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], dim=1).clamp(0, input_size)
        sample = DetDataSample(metainfo=dict(
            img_id=index, img_path=f'synthetic_{index}.jpg', ori_shape=(input_size, input_size),
            img_shape=(input_size, input_size), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=boxes, labels=torch.randint(0, num_classes, (boxes_per_image,), generator=generator))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _synchronize(device: torch.device) -> None:
    if device.type != 'cpu':
        getattr(torch, device.type).synchronize()


def time_training(cfg: Config, batches: Callable[[], Iterator[dict]], iterations: int, warmup: int,
                  device: str, compile_options: Optional[dict] = None) -> StepTimes:
    """Run ``warmup + iterations`` training steps of ``cfg.model`` and time the measured ones.

    Args:
        cfg: A config with ``model`` and ``optim_wrapper``.
        batches: Returns an iterator of collated batches (synthetic or from the dataloader);
            the time to get the next batch is the "data" phase.
        device: 'cpu', 'cuda' or 'npu'.
        compile_options: ``torch.compile`` arguments to compile the model's static regions, or None.
    """
    model = MODELS.build(cfg.model).to(device)
    model.train()
    if compile_options is not None:
        model.compile_graphs(**compile_options)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    torch_device = torch.device(device)
    times = StepTimes()
    iterator = batches()
    for step in range(warmup + iterations):
        start = time.perf_counter()
        batch = next(iterator)
        data = model.data_preprocessor(batch, True)
        _synchronize(torch_device)
        loaded = time.perf_counter()
        with optim_wrapper.optim_context(model):
            losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        _synchronize(torch_device)
        forwarded = time.perf_counter()
        optim_wrapper.backward(loss)
        _synchronize(torch_device)
        backwarded = time.perf_counter()
        optim_wrapper.step()
        optim_wrapper.zero_grad()
        _synchronize(torch_device)
        stepped = time.perf_counter()
        if step == 0:
            times.first_step = stepped - start
        if step >= warmup:
            times.data.append(loaded - start)
            times.forward.append(forwarded - loaded)
            times.backward.append(backwarded - forwarded)
            times.optimizer.append(stepped - backwarded)
    return times


def peak_memory_mb(device: str) -> Optional[float]:
    """Peak device memory allocated by tensors, in MiB (None on CPU)."""
    if device == 'cpu':
        return None
    return getattr(torch, device).max_memory_allocated() / 2**20
