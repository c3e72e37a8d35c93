"""VOCMetric: hand-computed mAP through the metric interface, GT rescaled to original pixels."""
import uuid

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

from ssd_npu.evaluation import VOCMetric

CLASSES = ('car', 'bus')
SCALE = (0.5, 0.25)  # (w, h): the network input is half as wide and a quarter as tall


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / 'metric.log'
    MMLogger.get_instance(f'test-{uuid.uuid4().hex}', log_file=str(path), log_level='INFO')
    return path


def _sample(img_id, gts, gt_labels, difficult, preds, resize_gt=True):
    """GT given in original pixels is stored resized (LoadAnnotations before Resize) or as is
    (after Resize, mmdetection's test pipelines)."""
    def resized(boxes):
        scale = torch.tensor(SCALE * 2) if resize_gt else torch.ones(4)
        return torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4) * scale
    return dict(
        img_id=img_id, ori_shape=(400, 200), img_shape=(100, 100), scale_factor=SCALE,
        gt_instances=dict(bboxes=resized(gts), labels=torch.tensor(gt_labels, dtype=torch.long)),
        ignored_instances=dict(bboxes=resized(difficult),
                               labels=torch.zeros(len(difficult), dtype=torch.long)),
        pred_instances=dict(bboxes=torch.tensor([p[:4] for p in preds], dtype=torch.float32).reshape(-1, 4),
                            scores=torch.tensor([p[4] for p in preds], dtype=torch.float32),
                            labels=torch.tensor([p[5] for p in preds], dtype=torch.long)))


def hand_case(resize_gt=True):
    # car: image 1 has 2 GT + 1 difficult, image 2 has 1 GT; bus has no GT at all.
    first = _sample(1, [[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0], [[40, 40, 50, 50]],
                    [[0, 0, 10, 10, 0.9, 0],          # TP
                     [0, 0, 10, 10, 0.8, 0],          # duplicate: FP
                     [40, 40, 50, 50, 0.7, 0],        # difficult: ignored
                     [100, 100, 110, 110, 0.6, 0],    # FP
                     [0, 0, 5, 5, 0.5, 1]],           # bus without GT: no effect
                    resize_gt)
    second = _sample(2, [[0, 0, 20, 20]], [0], [], [[0, 0, 20, 20, 0.65, 0]], resize_gt)
    return [first, second]


@pytest.mark.parametrize('gt_resized', [True, False])
@pytest.mark.parametrize('eval_mode, expected', [
    # Ranked car detections: TP FP (ignored) TP FP over 3 GT: recall 1/3 1/3 2/3 2/3,
    # precision 1 1/2 2/3 1/2.
    ('area', 1 / 3 + 2 / 9),                   # 1/3 * 1 + 1/3 * 2/3
    ('11points', (4 + 3 * 2 / 3) / 11),        # recall >= 0..0.3 -> 1, 0.4..0.6 -> 2/3
])
def test_hand_computed_map(eval_mode, expected, gt_resized, log_file):
    # GT stored in network-input pixels needs rescale_gt=True; GT loaded after Resize is original.
    metric = VOCMetric(eval_mode=eval_mode, rescale_gt=gt_resized)
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, hand_case(resize_gt=gt_resized))
    results = metric.evaluate(2)
    assert list(results) == ['pascal_voc/mAP', 'pascal_voc/AP50']
    assert results['pascal_voc/mAP'] == pytest.approx(expected, rel=1e-6)
    assert results['pascal_voc/AP50'] == results['pascal_voc/mAP']
    log = log_file.read_text()
    # The per-class table: car has 3 GT and 5 detections, bus 0 GT.
    assert '| car   | 3   | 5    |' in log and '| bus   | 0   | 1    |' in log


def test_several_thresholds_and_scale_ranges(log_file):
    metric = VOCMetric(iou_thrs=[0.5, 0.9], scale_ranges=[(0, 16), (16, 1000)], eval_mode='area',
                       rescale_gt=True)
    metric.dataset_meta = dict(classes=CLASSES)
    sample = _sample(1, [[0, 0, 9, 9], [0, 0, 99, 99]], [0, 0], [],
                     [[0, 0, 9, 9, 0.9, 0], [0, 0, 99, 119, 0.8, 0]])  # legacy IoU 10000/12000
    metric.process({}, [sample])
    results = metric.evaluate(1)
    # Small range (10x10 px with legacy widths): the exact box; large: IoU .83, a TP at .5 only.
    assert results['pascal_voc/AP50@0-16'] == pytest.approx(1.0)
    assert results['pascal_voc/AP50@16-1000'] == pytest.approx(1.0)
    assert results['pascal_voc/AP90@0-16'] == pytest.approx(1.0)
    assert results['pascal_voc/AP90@16-1000'] == pytest.approx(0.0)
    assert results['pascal_voc/mAP'] == pytest.approx(0.75)


def test_nan_predictions_dropped_and_repeated_images_once(log_file):
    clean = VOCMetric(eval_mode='area', rescale_gt=True)
    clean.dataset_meta = dict(classes=CLASSES)
    clean.process({}, hand_case())
    expected = clean.evaluate(2)
    metric = VOCMetric(eval_mode='area', rescale_gt=True)
    metric.dataset_meta = dict(classes=CLASSES)
    batch = hand_case()
    pred = batch[1]['pred_instances']
    pred['bboxes'] = torch.cat([pred['bboxes'], torch.tensor([[float('nan'), 0, 1, 1]])])
    pred['scores'] = torch.cat([pred['scores'], torch.tensor([0.99])])
    pred['labels'] = torch.cat([pred['labels'], torch.tensor([0])])
    metric.process({}, batch + hand_case()[:1])
    assert metric.compute_metrics(metric.results) == {k.split('/')[1]: v for k, v in expected.items()}
    assert 'dropped 1 predictions' in log_file.read_text()


def test_bad_arguments():
    with pytest.raises(ValueError, match='eval_mode'):
        VOCMetric(eval_mode='voc2007')
    with pytest.raises(KeyError, match='recall'):
        VOCMetric(metric='recall')


def test_rescale_gt_that_does_not_match_the_pipeline_is_flagged():
    metric = VOCMetric(rescale_gt=True)
    metric.dataset_meta = dict(classes=CLASSES)
    # LoadAnnotations ran after Resize: the stored boxes are original pixels, rescaling blows them up.
    sample = _sample(1, [[0, 0, 190, 390]], [0], [], [], resize_gt=False)
    with pytest.warns(UserWarning, match='use rescale_gt=False'):
        metric.process({}, [sample])
    assert np.isfinite(metric.results[0]['ann']['bboxes']).all()
