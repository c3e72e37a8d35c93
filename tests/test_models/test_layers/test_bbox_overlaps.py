"""bbox_overlaps: torchvision's IoU, mmdetection's IoF and eps, batched broadcasting."""
import torch
from torchvision.ops import box_iou

from ssd_npu.models.layers import bbox_overlaps


def random_boxes(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    return torch.cat([xy, xy + torch.rand(n, 2, generator=g) * 50], dim=1)


def test_iou_equals_torchvision():
    a, b = random_boxes(30, 0), random_boxes(40, 1)
    torch.testing.assert_close(bbox_overlaps(a, b), box_iou(a, b))


def test_iof_and_empty_boxes():
    a = torch.tensor([[0., 0., 10., 10.], [5., 5., 5., 5.]])
    b = torch.tensor([[5., 0., 20., 10.]])
    assert bbox_overlaps(a, b, mode='iof').tolist() == [[0.5], [0.0]]  # half of box 0 is covered
    assert bbox_overlaps(b, a).isfinite().all()


def test_batched_broadcast():
    gts = torch.stack([random_boxes(5, 2), random_boxes(5, 3)])   # [2, 5, 4]
    priors = random_boxes(7, 4)                                    # [7, 4], shared
    out = bbox_overlaps(gts, priors[None])
    assert out.shape == (2, 5, 7)
    torch.testing.assert_close(out[1], box_iou(gts[1], priors))
