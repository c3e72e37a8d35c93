"""Shared inputs of the head benchmarks: SSD300's head outputs for a batch and ground truth.

Plain tensors, saved with ``torch.save`` for the mmdetection peer (``mmdet_peer.py``), so that
both sides see identical numbers.
"""
import statistics
import time
from typing import Callable, Dict, List

import torch

SSD300_FEATMAPS = [38, 19, 10, 5, 3, 1]
SSD300_ANCHORS_PER_LOCATION = [4, 6, 6, 6, 4, 4]
NUM_CLASSES = 80


def make_head_inputs(batch: int, gts: int, seed: int = 0, trained_like: bool = False) -> Dict[str, List]:
    """SSD300 head outputs (class logits, deltas) and 300x300 GT with ``gts - 3 ... gts + 3`` boxes per image.

    ``trained_like`` biases the logits toward background as a trained SSD scores most anchors, so
    that post-processing sees a few hundred candidates above 0.02 per image instead of all of them.
    """
    g = torch.Generator().manual_seed(seed)
    cls, reg = [], []
    for anchors, size in zip(SSD300_ANCHORS_PER_LOCATION, SSD300_FEATMAPS):
        logits = torch.randn(batch, anchors, NUM_CLASSES + 1, size, size, generator=g)
        if trained_like:
            logits[:, :, NUM_CLASSES] += 6.0
        cls.append(logits.reshape(batch, anchors * (NUM_CLASSES + 1), size, size))
        reg.append(torch.randn(batch, anchors * 4, size, size, generator=g) * 0.5)
    boxes, labels = [], []
    for _ in range(batch):
        n = int(torch.randint(max(gts - 3, 0), gts + 4, (1,), generator=g))
        xy = torch.rand(n, 2, generator=g) * 260
        wh = 10 + torch.rand(n, 2, generator=g) * 150
        boxes.append(torch.cat([xy, (xy + wh).clamp(max=300)], 1))
        labels.append(torch.randint(0, NUM_CLASSES, (n,), generator=g))
    return dict(cls_scores=cls, bbox_preds=reg, boxes=boxes, labels=labels)


def median_ms(step: Callable[[], object], iters: int, warmup: int = 2) -> float:
    """Median milliseconds of ``step`` (CPU; on an accelerator ``step`` must synchronise itself)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
