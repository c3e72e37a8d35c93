"""VOC AP on cases small enough to compute by hand."""
import numpy as np
import pytest

from ssd_npu.evaluation.functional import average_precision, bbox_overlaps, eval_map, match_detections


def _ann(bboxes, labels, bboxes_ignore=None, labels_ignore=None):
    return dict(bboxes=np.array(bboxes, dtype=np.float32).reshape(-1, 4),
                labels=np.array(labels, dtype=np.int64),
                bboxes_ignore=np.array(bboxes_ignore or [], dtype=np.float32).reshape(-1, 4),
                labels_ignore=np.array(labels_ignore or [], dtype=np.int64))


def _dets(rows):
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


def test_bbox_overlaps_plain_and_legacy():
    a = np.array([[0, 0, 10, 10]], dtype=np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], dtype=np.float32)
    # Overlap 5x10 = 50, union 150.
    np.testing.assert_allclose(bbox_overlaps(a, b), [[50 / 150, 0]], rtol=1e-6)
    # Legacy widths +1: overlap 6x11 = 66, areas 121 each, union 176.
    np.testing.assert_allclose(bbox_overlaps(a, b, use_legacy_coordinate=True), [[66 / 176, 0]], rtol=1e-6)


def test_average_precision_area_and_11points_by_hand():
    # 2 GT; detections by score: TP, FP, TP -> recall .5 .5 1, precision 1 .5 2/3.
    recalls = np.array([0.5, 0.5, 1.0])
    precisions = np.array([1.0, 0.5, 2 / 3])
    # Area: envelope 1 up to recall .5, then 2/3 up to 1 -> .5 * 1 + .5 * 2/3.
    assert average_precision(recalls, precisions, 'area') == pytest.approx(0.5 + 1 / 3)
    # 11 points: recall >= 0 .. .5 (6 points) best precision 1, .6 .. 1 (5 points) 2/3.
    assert average_precision(recalls, precisions, '11points') == pytest.approx((6 + 5 * 2 / 3) / 11)
    with pytest.raises(ValueError, match='eval_mode'):
        average_precision(recalls, precisions, 'bogus')


def test_eval_map_hand_case_with_duplicate_difficult_and_two_images():
    # Class 0: image A has 2 GT + 1 difficult, image B has 1 GT. Class 1 has no GT anywhere.
    ann_a = _ann([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0],
                 bboxes_ignore=[[40, 40, 50, 50]], labels_ignore=[0])
    ann_b = _ann([[0, 0, 20, 20]], [0])
    dets_a = [_dets([[0, 0, 10, 10, 0.9],       # TP on GT 1
                     [0, 0, 10, 10, 0.8],       # duplicate -> FP
                     [40, 40, 50, 50, 0.7],     # on the difficult box -> ignored
                     [100, 100, 110, 110, 0.6]]),  # nothing -> FP
              _dets([[0, 0, 5, 5, 0.5]])]       # class without GT: no effect on mAP
    dets_b = [_dets([[0, 0, 20, 20, 0.65]]),    # TP
              _dets([])]
    mean_ap, per_class = eval_map([dets_a, dets_b], [ann_a, ann_b], eval_mode='area', logger='silent')
    # Ranked class-0 detections (ignored one dropped): .9 TP, .8 FP, .65 TP, .6 FP; 3 GT.
    # recall 1/3 1/3 2/3 2/3, precision 1 .5 2/3 .5 -> area = 1/3 * 1 + 1/3 * 2/3.
    expected = 1 / 3 + 2 / 9
    assert per_class[0]['ap'] == pytest.approx(expected, rel=1e-6)
    assert per_class[0]['num_gts'] == 3 and per_class[0]['num_dets'] == 5
    assert per_class[1]['num_gts'] == 0
    assert mean_ap == pytest.approx(expected, rel=1e-6)
    mean_11, _ = eval_map([dets_a, dets_b], [ann_a, ann_b], eval_mode='11points', logger='silent')
    # recall >= 0, .1, .2, .3 -> 1 (4 points); .4, .5, .6 -> 2/3 (3 points); .7 .. 1 -> 0.
    assert mean_11 == pytest.approx((4 + 3 * 2 / 3) / 11, rel=1e-6)


def test_match_detections_iou_threshold_and_scale_ranges():
    gts = np.array([[0, 0, 10, 10], [0, 0, 100, 100]], dtype=np.float32)
    dets = _dets([[0, 0, 10, 12, 0.9],     # IoU 100/120 = .83 with the small GT
                  [0, 0, 100, 160, 0.8],   # IoU .625 with the large GT
                  [200, 200, 203, 203, 0.7]])  # small box, nothing
    tp, fp = match_detections(dets, gts, iou_thr=0.7)
    np.testing.assert_array_equal(tp, [[1, 0, 0]])
    np.testing.assert_array_equal(fp, [[0, 1, 1]])
    # Two ranges: small (area < 32^2) and large (>= 32^2): a GT outside the range is ignored, an
    # unmatched detection counts as FP only inside the range.
    tp, fp = match_detections(dets, gts, iou_thr=0.5, area_ranges=[(0, 32 ** 2), (32 ** 2, 1e10)])
    np.testing.assert_array_equal(tp, [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(fp, [[0, 0, 1], [0, 0, 0]])


def test_eval_map_scale_ranges_returns_one_map_per_range():
    ann = _ann([[0, 0, 10, 10], [0, 0, 100, 100]], [0, 0])
    dets = [[_dets([[0, 0, 10, 10, 0.9]])]]
    mean_ap, _ = eval_map(dets, [ann], scale_ranges=[(0, 32), (32, 1e5)], logger='silent')
    assert mean_ap == pytest.approx([1.0, 0.0])


def test_eval_map_without_any_gt_is_zero():
    ann = _ann([], [])
    mean_ap, per_class = eval_map([[_dets([[0, 0, 1, 1, 0.5]])]], [ann], logger='silent')
    assert mean_ap == 0.0 and per_class[0]['num_gts'] == 0
