"""Inference speed of one model in PyTorch eager, PyTorch compiled and onnxruntime.

Each runtime runs the same test step on the same batch of uint8 images (as the dataloader
gives them): normalisation, network, decoding, NMS, top-k and the results as DetDataSample.
"""
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Optional

import torch
import torch.nn as nn
from train_benchmark import synthetic_batch

from ssd_npu.config import input_size_from_config
from ssd_npu.deployment import ONNXDetector, export_onnx


def time_test_steps(test_step: Callable[[dict], list], batch: dict, iterations: int, warmup: int) -> float:
    """Median seconds of ``test_step(batch)`` over ``iterations`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        test_step(batch)
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        test_step(batch)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def benchmark_inference(model: nn.Module, onnx_file: Optional[str] = None, batch_size: int = 1,
                        iterations: int = 10, warmup: int = 2, compiled: bool = True,
                        num_threads: Optional[int] = None) -> Dict[str, dict]:
    """Images/s and seconds per batch of ``model`` (an SSD in eval mode, on the CPU) per runtime.

    Args:
        model: the detector (its ``cfg`` gives the input size).
        onnx_file: its exported file; None: exported here (a temporary file, fixed batch size).
        batch_size: images per step.
        iterations, warmup: timed and untimed steps per runtime.
        compiled: also time ``model.compile_graphs()`` (Inductor; compile time not counted).
        num_threads: threads of every runtime (default: torch's current number).

    Returns:
        ``{runtime: dict(images_per_s=..., seconds_per_batch=...)}`` for ``pytorch_eager``,
        ``pytorch_compiled`` (when ``compiled``) and ``onnxruntime``.
    """
    num_threads = num_threads or torch.get_num_threads()
    torch.set_num_threads(num_threads)
    height, width = input_size_from_config(model.cfg)
    if height != width:
        raise ValueError(f'benchmark_inference: square inputs only, the config resizes to {height}x{width}')
    batch = synthetic_batch(batch_size, height, model.bbox_head.num_classes)
    results = {}

    def record(name: str, test_step: Callable[[dict], list]) -> None:
        seconds = time_test_steps(test_step, batch, iterations, warmup)
        results[name] = dict(images_per_s=batch_size / seconds, seconds_per_batch=seconds)

    with torch.no_grad():
        record('pytorch_eager', model.test_step)
        with tempfile.TemporaryDirectory() as folder:
            path = onnx_file or export_onnx(model, Path(folder) / 'model.onnx', batch_size=batch_size)
            record('onnxruntime', ONNXDetector(path, num_threads=num_threads).test_step)
        if compiled:
            model.compile_graphs()
            record('pytorch_compiled', model.test_step)
    return results
