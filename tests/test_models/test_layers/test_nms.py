"""batched_nms: torchvision's result everywhere, including the kernel-free fallback (greedy_nms_keep)."""
import pytest
import torch
import torchvision

from ssd_npu.models.layers import batched_nms, greedy_nms_keep
from ssd_npu.models.layers import nms as nms_module


def random_detections(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 200
    boxes = torch.cat([xy, xy + 10 + torch.rand(n, 2, generator=g) * 60], dim=1)
    return boxes, torch.rand(n, generator=g), torch.randint(0, 4, (n,), generator=g)


@pytest.mark.parametrize('seed', range(5))
@pytest.mark.parametrize('iou_threshold', [0.3, 0.45, 0.7])
def test_fallback_equals_torchvision(monkeypatch, seed, iou_threshold):
    boxes, scores, classes = random_detections(300, seed)
    expected = torchvision.ops.batched_nms(boxes, scores, classes, iou_threshold)
    class_agnostic = torchvision.ops.nms(boxes, scores, iou_threshold)
    monkeypatch.setattr(nms_module, '_has_torchvision_nms', lambda device: False)
    assert torch.equal(batched_nms(boxes, scores, classes, iou_threshold), expected)
    order = scores.argsort(descending=True)
    keep, converged = greedy_nms_keep(boxes[order][None], torch.zeros(1, 300, dtype=torch.long),
                                      torch.ones(1, 300, dtype=torch.bool), iou_threshold, iterations=300)
    assert converged.all() and torch.equal(order[keep[0]], class_agnostic)


def test_device_without_kernel_uses_fallback(monkeypatch):
    boxes, scores, classes = random_detections(200, 7)
    expected = batched_nms(boxes, scores, classes, 0.45)
    monkeypatch.setattr(nms_module, '_has_torchvision_nms', lambda device: False)
    monkeypatch.setattr(torchvision.ops, 'batched_nms', None)  # would raise if called
    assert torch.equal(batched_nms(boxes, scores, classes, 0.45), expected)


def test_cpu_has_kernel_and_empty_input():
    assert nms_module._has_torchvision_nms(torch.device('cpu'))
    keep = batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5)
    assert keep.shape == (0,) and keep.dtype == torch.long
