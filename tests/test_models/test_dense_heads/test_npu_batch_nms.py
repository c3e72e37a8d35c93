"""The NMS step through ``torch_npu.npu_batch_nms`` keeps what the pure-torch NMS keeps.

No NPU here: the op is played by a CPU function following its documented contract (torch-npu's
``_op_plugin_docs.py``: float16 boxes [B, N, q, 4] and scores [B, N, C]; kept boxes, scores and
float16 classes [B, max_total_size], best first, zero-padded, and an int32 count [B]). Its
schema is checked against the released wheels in tests/test_npu.
"""
import sys
import types
from functools import partial

import pytest
import torch
import torchvision
from test_ssd_head import NUM_CLASSES, TEST_CFG, head_outputs, small_head

from ssd_npu.models.dense_heads.npu_batch_nms import MAX_CANDIDATES, npu_batch_nms_keep, npu_nms_step
from ssd_npu.models.layers import greedy_nms_keep


def documented_npu_batch_nms(boxes, scores, score_threshold, iou_threshold, max_size_per_class,
                             max_total_size, change_coordinate_frame=False, transpose_box=False):
    """``torch_npu.npu_batch_nms`` as documented, on the CPU (boxes shared by the classes: q = 1)."""
    assert boxes.dtype == scores.dtype == torch.float16 and boxes.size(2) == 1
    assert not change_coordinate_frame and not transpose_box
    num_images = boxes.size(0)
    out_boxes = torch.zeros(num_images, max_total_size, 4, dtype=torch.float16)
    out_scores = torch.zeros(num_images, max_total_size, dtype=torch.float16)
    out_classes = torch.zeros(num_images, max_total_size, dtype=torch.float16)
    out_num = torch.zeros(num_images, dtype=torch.int32)
    for image in range(num_images):
        kept = []
        for label in range(scores.size(2)):
            class_scores = scores[image, :, label].float()
            candidates = (class_scores > score_threshold).nonzero()[:, 0]
            image_boxes = boxes[image, candidates, 0].float()
            survivors = candidates[torchvision.ops.nms(image_boxes, class_scores[candidates], iou_threshold)]
            kept += [(float(class_scores[i]), int(i), label) for i in survivors[:max_size_per_class]]
        kept = sorted(kept, reverse=True)[:max_total_size]
        out_num[image] = len(kept)
        for row, (score, index, label) in enumerate(kept):
            out_boxes[image, row] = boxes[image, index, 0]
            out_scores[image, row] = score
            out_classes[image, row] = label
    return out_boxes, out_scores, out_classes, out_num


@pytest.fixture
def fake_torch_npu(monkeypatch):
    module = types.ModuleType('torch_npu')
    module.npu_batch_nms = documented_npu_batch_nms
    monkeypatch.setitem(sys.modules, 'torch_npu', module)
    return module


def crowded_candidates(num_images: int, num: int, num_classes: int, seed: int):
    """Boxes sorted by descending score with whole-pixel corners (exact in float16, as the op reads
    them), many overlapping; some candidates masked out."""
    generator = torch.Generator().manual_seed(seed)
    xy = torch.randint(0, 60, (num_images, num, 2), generator=generator).float()
    boxes = torch.cat([xy, xy + torch.randint(5, 45, (num_images, num, 2), generator=generator)], dim=-1)
    scores = torch.rand(num_images, num, generator=generator).sort(dim=1, descending=True).values
    labels = torch.randint(0, num_classes, (num_images, num), generator=generator)
    valid = torch.rand(num_images, num, generator=generator) > 0.2
    return boxes, scores, labels, valid


@pytest.mark.parametrize('num', [50, MAX_CANDIDATES])
def test_npu_batch_nms_keeps_what_greedy_nms_keeps(fake_torch_npu, num):
    boxes, scores, labels, valid = crowded_candidates(2, num, 4, seed=num)
    expected, converged = greedy_nms_keep(boxes, labels, valid, 0.45, iterations=num)
    assert converged.all()
    keep, exact = npu_batch_nms_keep(boxes, scores, labels, valid, 0.45, num_classes=4)
    assert exact.all()
    assert torch.equal(keep, expected)
    assert 0 < int(keep.sum()) < int(valid.sum()), 'the candidates overlap: NMS removes some'


def test_more_candidates_than_float16_codes_is_an_error(fake_torch_npu):
    boxes, scores, labels, valid = crowded_candidates(1, MAX_CANDIDATES + 1, 2, seed=0)
    with pytest.raises(ValueError, match='at most 1024 candidates'):
        npu_batch_nms_keep(boxes, scores, labels, valid, 0.45, num_classes=2)


def greedy_nms_on_float16_boxes(boxes, scores, labels, valid, iou_threshold):
    """The pure-torch NMS step deciding on the float16 boxes the op reads."""
    return greedy_nms_keep(boxes.half().float(), labels, valid, iou_threshold, iterations=boxes.size(1))


def test_head_detections_through_npu_batch_nms_equal_pure_torch(fake_torch_npu):
    """The head's detections: float32 boxes, scores and labels as the pure-torch NMS step gives them
    when it decides on the op's float16 boxes; and float32 decisions differ only by a few boxes
    within float16 rounding of the IoU threshold (the later rows of an image shift then)."""
    head = small_head()
    head.eval()
    head.test_cfg = {**TEST_CFG, 'nms_candidates': 400}
    cls, reg = head_outputs(head, 3, seed=5)
    img_shapes = torch.full((3, 2), 64)
    npu_step = partial(npu_batch_nms_keep, num_classes=NUM_CLASSES)
    got = head.batch_detections(cls, reg, img_shapes, nms_keep=npu_step)
    expected = head.batch_detections(cls, reg, img_shapes, nms_keep=greedy_nms_on_float16_boxes)
    assert int(expected.num_dets.min()) == 200
    for name in ('bboxes', 'scores', 'labels', 'num_dets', 'exact'):
        assert torch.equal(getattr(got, name), getattr(expected, name)), name
    float32 = head.batch_detections(cls, reg, img_shapes)
    same_rows = (float32.scores == got.scores).sum(dim=1)
    assert int(same_rows.min()) >= 90 and int((same_rows == 200).sum()) >= 2


def test_npu_batch_nms_is_chosen_on_npu_only_where_torch_npu_has_it(fake_torch_npu, monkeypatch):
    # torch names the npu device type only once torch_npu has registered it: a stand-in device.
    npu, cpu = types.SimpleNamespace(type='npu'), torch.device('cpu')
    assert npu_nms_step(npu, 400, NUM_CLASSES).keywords == {'num_classes': NUM_CLASSES}
    assert npu_nms_step(cpu, 400, NUM_CLASSES) is None
    # All candidates (the exact path) or more than the codes hold: the pure-torch NMS.
    assert npu_nms_step(npu, -1, NUM_CLASSES) is None
    assert npu_nms_step(npu, MAX_CANDIDATES + 1, NUM_CLASSES) is None
    monkeypatch.delattr(fake_torch_npu, 'npu_batch_nms')
    assert npu_nms_step(npu, 400, NUM_CLASSES) is None
