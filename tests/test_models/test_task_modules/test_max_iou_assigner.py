"""Batched MaxIoUAssigner == mmdetection's per-image rules (``assign_per_image``) on padded GT."""
import pytest
import torch

from ssd_npu.models.task_modules import MaxIoUAssigner
from ssd_npu.testing.ssd_head_oracle import assign_per_image


def test_mmdetection_docstring_example():
    assigner = MaxIoUAssigner(0.5, 0.5)
    priors = torch.tensor([[0., 0., 10., 10.], [10., 10., 20., 20.]])
    gts = torch.tensor([[[0., 0., 10., 9.]]])
    gt_inds, max_overlaps = assigner.assign_batch(priors, gts, torch.tensor([[True]]))
    assert gt_inds.tolist() == [[1, 0]]
    torch.testing.assert_close(max_overlaps, torch.tensor([[0.9, 0.]]))


def test_later_gt_wins_a_shared_best_prior():
    priors = torch.tensor([[0., 0., 10., 10.], [20., 20., 30., 30.]])
    gts = torch.tensor([[[0., 0., 10., 10.], [0., 0., 10., 10.]]])
    assigner = MaxIoUAssigner(0.5, 0.5, gt_max_assign_all=False)
    gt_inds, _ = assigner.assign_batch(priors, gts, torch.ones(1, 2, dtype=torch.bool))
    assert gt_inds.tolist() == [[2, 0]]


def grid_priors(step: int = 8, size: int = 64) -> torch.Tensor:
    """Integer-aligned priors of two sizes: many exact IoU ties, like SSD's anchor grid."""
    centres = torch.arange(step // 2, size, step).float()
    cy, cx = torch.meshgrid(centres, centres, indexing='ij')
    boxes = []
    for half in (6., 12.):
        boxes.append(torch.stack([cx - half, cy - half, cx + half, cy + half], dim=-1).reshape(-1, 4))
    return torch.cat(boxes)


def random_padded_gt(counts, pad: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    bboxes = torch.zeros(len(counts), pad, 4)
    valid = torch.zeros(len(counts), pad, dtype=torch.bool)
    for i, n in enumerate(counts):
        xy = torch.randint(0, 48, (n, 2), generator=g).float()
        bboxes[i, :n] = torch.cat([xy, xy + torch.randint(4, 30, (n, 2), generator=g).float()], dim=1)
        valid[i, :n] = True
    # Padding filled with a real-looking box: validity, not the values, must keep it out.
    bboxes[~valid] = torch.tensor([0., 0., 12., 12.])
    return bboxes, valid


CONFIGS = [
    dict(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0., gt_max_assign_all=False),   # SSD
    dict(pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0., gt_max_assign_all=True),    # mmdet default
    dict(pos_iou_thr=0.6, neg_iou_thr=(0.1, 0.4), min_pos_iou=0.3, gt_max_assign_all=True),
    dict(pos_iou_thr=0.5, neg_iou_thr=0.5, match_low_quality=False),
]


@pytest.mark.parametrize('cfg', CONFIGS)
@pytest.mark.parametrize('seed', range(3))
def test_batched_equals_per_image_reference(cfg, seed):
    assigner = MaxIoUAssigner(**cfg)
    priors = grid_priors()
    counts = [0, 1, 3, 7]
    gts, valid = random_padded_gt(counts, pad=10, seed=seed)
    gt_inds, max_overlaps = assigner.assign_batch(priors, gts, valid)
    assert gt_inds.shape == max_overlaps.shape == (4, len(priors)) and gt_inds.dtype == torch.long
    for i, n in enumerate(counts):
        ref_inds, ref_overlaps = assign_per_image(assigner, priors, gts[i, :n])
        assert torch.equal(gt_inds[i], ref_inds), f'image {i}'
        torch.testing.assert_close(max_overlaps[i], ref_overlaps)
    assert gt_inds.max() <= max(counts)
    assert (gt_inds[0] == 0).all()   # no GT: everything negative


def test_low_quality_matches_every_gt():
    priors = grid_priors()
    gts, valid = random_padded_gt([7], pad=7, seed=5)
    gts[0, 0] = torch.tensor([3., 3., 60., 5.])   # thin box: IoU < 0.5 with every prior
    gt_inds, max_overlaps = MaxIoUAssigner(0.5, 0.5, gt_max_assign_all=False).assign_batch(priors, gts, valid)
    assert set(gt_inds[gt_inds > 0].tolist()) == set(range(1, 8))
    assert max_overlaps[0][gt_inds[0] == 1].max() < 0.5


@pytest.mark.parametrize('wrt_candidates', [True, False])
def test_ignored_regions_equal_reference(wrt_candidates):
    assigner = MaxIoUAssigner(0.5, 0.5, ignore_iof_thr=0.3, ignore_wrt_candidates=wrt_candidates)
    priors = grid_priors()
    gts, valid = random_padded_gt([2, 3], pad=4, seed=3)
    ignore = torch.tensor([[[0., 0., 40., 40.], [0., 0., 0., 0.]], [[0., 0., 64., 64.], [0., 0., 0., 0.]]])
    ignore_valid = torch.tensor([[True, False], [False, False]])
    gt_inds, _ = assigner.assign_batch(priors, gts, valid, ignore, ignore_valid)
    assert (gt_inds[0] == -1).any()
    for i, (n, k) in enumerate([(2, 1), (3, 0)]):
        ref_inds, _ = assign_per_image(assigner, priors, gts[i, :n], ignore[i, :k])
        assert torch.equal(gt_inds[i], ref_inds)


def test_no_gt_in_the_whole_batch():
    gt_inds, max_overlaps = MaxIoUAssigner(0.5, 0.5).assign_batch(grid_priors(), torch.zeros(2, 0, 4),
                                                            torch.zeros(2, 0, dtype=torch.bool))
    assert (gt_inds == 0).all() and (max_overlaps == 0).all()


def test_bad_neg_iou_thr():
    with pytest.raises(ValueError, match='neg_iou_thr'):
        MaxIoUAssigner(0.5, (0.1, 0.2, 0.3))
