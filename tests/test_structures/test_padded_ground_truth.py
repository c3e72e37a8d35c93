"""Ground truth as fixed-size tensors: the padded size chosen per batch, and what the padding holds."""
import logging

import pytest
import torch
from mmengine.structures import InstanceData

from ssd_npu.structures import GroundTruthPadding, padded_ground_truth


def instances(count: int) -> InstanceData:
    xy = torch.arange(count, dtype=torch.float32)[:, None].repeat(1, 2)
    return InstanceData(bboxes=torch.cat([xy, xy + 5], dim=1), labels=torch.arange(count))


def test_eager_pads_to_powers_of_two_and_graph_mode_to_the_configured_size():
    eager, static = GroundTruthPadding(100), GroundTruthPadding(100, static=True)
    assert [eager.size_for(n) for n in (0, 1, 8, 9, 33, 100, 150)] == [8, 8, 8, 16, 64, 128, 256]
    assert [static.size_for(n) for n in (0, 7, 100)] == [100, 100, 100]
    buckets = GroundTruthPadding([16, 64], static=True)
    assert [buckets.size_for(n) for n in (3, 16, 17, 64)] == [16, 16, 64, 64]
    assert GroundTruthPadding(0, static=True).size_for(13) == 13


def test_graph_mode_never_truncates_and_warns_once_per_new_size(monkeypatch):
    warnings = []
    monkeypatch.setattr(padded_ground_truth, 'print_log',
                        lambda message, logger, level: warnings.append((message, level)))
    padding = GroundTruthPadding(100, static=True)
    assert [padding.size_for(n) for n in (150, 170, 250)] == [200, 200, 300]
    assert len(warnings) == 2 and '150 ground-truth boxes' in warnings[0][0]
    assert warnings[0][1] == logging.WARNING
    gt = padding.pad([instances(150), instances(2)])
    assert gt.bboxes.shape == (2, 200, 4) and gt.valid.sum().item() == 152
    assert torch.equal(gt.labels[0, :150], torch.arange(150))


def test_padding_marks_real_boxes_of_positive_size_valid():
    degenerate = InstanceData(bboxes=torch.tensor([[0., 0., 4., 4.], [3., 3., 3., 9.]]),
                              labels=torch.tensor([1, 2]))
    gt = GroundTruthPadding(4, static=True).pad([degenerate, instances(0)])
    assert gt.valid.tolist() == [[True, False, False, False], [False] * 4]
    assert gt.labels.tolist() == [[1, 2, 0, 0], [0] * 4]
    assert gt.bboxes.dtype == torch.float32 and gt.ignore_bboxes is None


@pytest.mark.parametrize('bad', [-1, [0, 8], [], [8.5]])
def test_bad_sizes_are_rejected(bad):
    with pytest.raises(ValueError, match='gt_pad_size'):
        GroundTruthPadding(bad)
