"""Side-by-side speed of our SSD300 and torchvision's ssd300_vgg16 on the same batch.

Both models hold the same weights (torchvision's random init with a background-biased class
head, converted to ours), see the
same uint8 images and ground truth, and run:
- a training step: normalisation, forward, loss, backward, SGD step;
- inference: normalisation, forward, decoding and NMS (eval mode, no grad).

    python tools/benchmarks/benchmark_model.py --batch-size 8 --iters 5 --device cuda:0

With the default config (configs/ssd300_coco_torchvision.py) our post-processing is
torchvision's, so the two do the same work; pass configs/ssd300_coco.py-style configs to time
mmdetection's post-processing instead.
"""
import argparse
import statistics
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import torch
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData
from torch import Tensor
from torchvision.models.detection import ssd300_vgg16

from ssd_npu.config import load_config
from ssd_npu.models.detectors.torchvision_conversion import (
    COCO_CATEGORY_IDS,
    convert_torchvision_ssd300_vgg16,
)
from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample

REPO = Path(__file__).resolve().parents[2]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=str(REPO / 'configs' / 'ssd300_coco_torchvision.py'),
                        help='config of our SSD300 (any config whose weights torchvision\'s convert into)')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--iters', type=int, default=1, help='timed iterations of each measurement '
                                                                 '(the median is reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed iterations before timing')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def make_batch(batch_size: int, seed: int) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
    """uint8 BGR images (3, 300, 300), GT boxes (N, 4) xyxy pixels and 0-based labels (N,)."""
    generator = torch.Generator().manual_seed(seed)
    images, boxes, labels = [], [], []
    for _ in range(batch_size):
        images.append(torch.randint(0, 256, (3, 300, 300), dtype=torch.uint8, generator=generator))
        num = int(torch.randint(1, 6, (1,), generator=generator))
        xy = torch.rand(num, 2, generator=generator) * 200
        wh = 20 + torch.rand(num, 2, generator=generator) * 80
        boxes.append(torch.cat([xy, xy + wh], dim=1))
        labels.append(torch.randint(0, 80, (num,), generator=generator))
    return images, boxes, labels


def background_biased_head(model: torch.nn.Module) -> None:
    """Make torchvision's random class head score like a trained one: mostly background.

    Random VGG features give logits of std ~3, so nearly every (box, class) pair passes the 0.01
    score threshold and NMS would time a degenerate case. Scaled-down weights and a background
    bias of 9 leave a few thousand candidates per image, as a trained SSD300 has.
    """
    with torch.no_grad():
        for conv in model.head.classification_head.module_list:
            conv.weight.mul_(0.3)
            conv.bias.view(-1, 91).zero_()[:, 0] = 9.


def synchronize(device: torch.device) -> None:
    backend = getattr(torch, device.type, None)
    if backend is not None and hasattr(backend, 'synchronize'):
        backend.synchronize()


def seconds_per_iter(steps: Dict[str, Callable[[], object]], warmup: int, iters: int,
                     device: torch.device) -> Dict[str, float]:
    """Median seconds of each step; the steps alternate, so load changes hit all of them alike."""
    for _ in range(warmup):
        for step in steps.values():
            step()
    times = {name: [] for name in steps}
    for _ in range(iters):
        for name, step in steps.items():
            synchronize(device)
            start = time.perf_counter()
            step()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    register_all_modules()
    torch.manual_seed(args.seed)
    theirs = ssd300_vgg16(weights=None, weights_backbone=None)
    background_biased_head(theirs)
    cfg = load_config(args.config)
    cfg.model.backbone.init_cfg = None
    ours = MODELS.build(cfg.model)
    ours.load_state_dict(convert_torchvision_ssd300_vgg16(theirs.state_dict()))
    theirs.to(device)
    ours.to(device)

    images, boxes, labels = make_batch(args.batch_size, args.seed)
    samples = []
    for i, (box, label) in enumerate(zip(boxes, labels)):
        sample = DetDataSample(metainfo=dict(img_id=i, img_shape=(300, 300), ori_shape=(300, 300),
                                             scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(bboxes=box, labels=label)
        samples.append(sample)
    our_data = dict(inputs=images, data_samples=samples)
    category_ids = torch.tensor(COCO_CATEGORY_IDS)
    targets = [dict(boxes=box.to(device), labels=category_ids[label].to(device))
               for box, label in zip(boxes, labels)]

    def their_inputs() -> List[Tensor]:
        # torchvision takes RGB floats in [0, 1]; the conversion is part of its input path.
        return [image.to(device).flip(0).float() / 255 for image in images]

    our_optim = OptimWrapper(torch.optim.SGD(ours.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4))
    their_optim = torch.optim.SGD(theirs.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)

    def their_train_step() -> None:
        losses = theirs(their_inputs(), targets)
        their_optim.zero_grad()
        sum(losses.values()).backward()
        their_optim.step()

    timing = dict(warmup=args.warmup, iters=args.iters, device=device)
    # Inference first: the SGD steps below change the weights (and so the number of detections).
    ours.eval()
    theirs.eval()
    detections = {}

    def our_inference() -> None:
        detections['ours'] = [len(s.pred_instances) for s in ours.test_step(our_data)]

    def their_inference() -> None:
        detections['torchvision'] = [len(d['boxes']) for d in theirs(their_inputs())]

    with torch.no_grad():
        infer = seconds_per_iter({'ours': our_inference, 'torchvision': their_inference}, **timing)

    ours.train()
    theirs.train()
    train = seconds_per_iter({'ours': lambda: ours.train_step(our_data, our_optim),
                              'torchvision': their_train_step}, **timing)

    print(f'device {device}, batch {args.batch_size}, median of {args.iters} alternating iteration(s) after '
          f'{args.warmup} warm-up, config {Path(args.config).name}')
    print(f'{"":12s} {"train s/iter":>13s} {"train img/s":>12s} {"infer s/iter":>13s} {"infer img/s":>12s}')
    for name in ('ours', 'torchvision'):
        print(f'{name:12s} {train[name]:13.3f} {args.batch_size / train[name]:12.2f} '
              f'{infer[name]:13.3f} {args.batch_size / infer[name]:12.2f}')
    train_ratio = train['torchvision'] / train['ours']
    infer_ratio = infer['torchvision'] / infer['ours']
    print(f'speed-up of ours (torchvision time / our time): train {train_ratio:.2f}x, '
          f'inference {infer_ratio:.2f}x')
    print(f'detections per image: ours {detections["ours"]}, torchvision {detections["torchvision"]}')


if __name__ == '__main__':
    main()
