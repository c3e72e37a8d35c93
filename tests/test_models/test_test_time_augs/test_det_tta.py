"""DetTTAModel: each view's detections mapped back onto the original image, merged by class-wise NMS."""
import cv2
import numpy as np
import pytest
import torch
from detector_fixtures import random_detector
from mmengine.dataset import Compose, pseudo_collate
from mmengine.structures import InstanceData
from torchvision.ops import batched_nms

from ssd_npu.config import flip_tta_pipeline
from ssd_npu.models.test_time_augs import DetTTAModel
from ssd_npu.models.test_time_augs.det_tta import unflip_boxes
from ssd_npu.structures import DetDataSample


def test_unflip_maps_boxes_back_and_twice_is_identity():
    boxes = torch.tensor([[10., 20., 30., 40.]])
    assert unflip_boxes(boxes, (100, 200), 'horizontal').tolist() == [[170., 20., 190., 40.]]
    assert unflip_boxes(boxes, (100, 200), 'vertical').tolist() == [[10., 60., 30., 80.]]
    assert unflip_boxes(boxes, (100, 200), 'diagonal').tolist() == [[170., 60., 190., 80.]]
    for direction in ('horizontal', 'vertical', 'diagonal'):
        twice = unflip_boxes(unflip_boxes(boxes, (100, 200), direction), (100, 200), direction)
        assert torch.equal(twice, boxes)


class _Detector(torch.nn.Module):
    """Stands for a detector in tests of the merge alone."""

    def test_step(self, data):
        raise AssertionError('not called: these tests merge given predictions')


def _view(bboxes, scores, labels, flip):
    sample = DetDataSample(metainfo=dict(ori_shape=(100, 200), flip=flip, flip_direction='horizontal'))
    sample.pred_instances = InstanceData(bboxes=torch.tensor(bboxes), scores=torch.tensor(scores),
                                         labels=torch.tensor(labels))
    return sample


def test_a_box_seen_in_both_views_is_kept_once_with_its_best_score():
    plain = _view([[10., 20., 30., 40.]], [0.9], [0], flip=False)
    # The same object in the flipped view, and another one only that view finds.
    flipped = _view([[170., 20., 190., 40.], [0., 0., 50., 50.]], [0.8, 0.5], [0, 1], flip=True)
    model = DetTTAModel(module=_Detector(), tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                                                                 max_per_img=100))
    merged, = model.merge_preds([[plain, flipped]])
    assert merged.pred_instances.bboxes.tolist() == [[10., 20., 30., 40.], [150., 0., 200., 50.]]
    assert merged.pred_instances.scores.tolist() == pytest.approx([0.9, 0.5])
    assert merged.pred_instances.labels.tolist() == [0, 1]
    assert merged.metainfo['flip'] is False


def test_max_per_img_keeps_the_best():
    view = _view([[0., 0., 10., 10.], [50., 50., 60., 60.], [90., 0., 99., 9.]], [0.2, 0.7, 0.5], [0, 0, 0],
                 flip=False)
    merged, = DetTTAModel(module=_Detector(), tta_cfg=dict(max_per_img=2)).merge_preds([[view]])
    assert merged.pred_instances.scores.tolist() == pytest.approx([0.7, 0.5])


def test_only_nms_merging_is_offered():
    with pytest.raises(ValueError, match="tta_cfg.nms.type must be 'nms'"):
        DetTTAModel(module=_Detector(), tta_cfg=dict(nms=dict(type='soft_nms')))


def test_the_flip_view_runs_the_detector_on_the_mirrored_image(tmp_path):
    """Through the real pipeline and detector: the merge equals NMS over the plain image's detections
    and the mirrored image's detections mapped back."""
    model = random_detector('synthetic_demo.py', 192).eval()
    image = np.random.default_rng(0).integers(0, 255, (150, 230, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'plain.png'), image)
    cv2.imwrite(str(tmp_path / 'mirrored.png'), cv2.flip(image, 1))
    test_pipeline = [dict(step) for step in model.cfg.test_dataloader.dataset.pipeline
                     if step['type'] != 'LoadAnnotations']

    def sample(name, pipeline):
        return Compose(pipeline)(dict(img_path=str(tmp_path / name), img_id=0))

    with torch.no_grad():
        tta_model = DetTTAModel(module=model, tta_cfg=dict(nms=dict(iou_threshold=0.45), max_per_img=200))
        merged, = tta_model.test_step(pseudo_collate([sample('plain.png', flip_tta_pipeline(test_pipeline))]))
        plain, = model.test_step(pseudo_collate([sample('plain.png', test_pipeline)]))
        mirrored, = model.test_step(pseudo_collate([sample('mirrored.png', test_pipeline)]))

    boxes = torch.cat([plain.pred_instances.bboxes, unflip_boxes(mirrored.pred_instances.bboxes, (150, 230),
                                                                 'horizontal')])
    scores = torch.cat([plain.pred_instances.scores, mirrored.pred_instances.scores])
    labels = torch.cat([plain.pred_instances.labels, mirrored.pred_instances.labels])
    keep = batched_nms(boxes, scores, labels, 0.45)[:200]
    assert len(keep) > 0
    torch.testing.assert_close(merged.pred_instances.bboxes, boxes[keep], atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(merged.pred_instances.scores, scores[keep])
    assert torch.equal(merged.pred_instances.labels, labels[keep])
    assert merged.metainfo['ori_shape'] == (150, 230)
