import logging

import pytest
import torch
from detector_fixtures import assert_same_detections, random_detector, torch_detections
from mmengine.config import Config
from mmengine.runner import load_checkpoint, save_checkpoint
from mmengine.structures import InstanceData
from repo_paths import CONFIGS_DIR

from ssd_npu.models.detectors import SSD
from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample

CONFIGS = CONFIGS_DIR / '_base_' / 'models'


def small_ssdlite(num_classes: int = 3, model_type: str = 'SSD') -> SSD:
    """SSDLite at a quarter of MobileNetV2's width with thin extra levels: fast on CPU."""
    register_all_modules()
    cfg = Config.fromfile(str(CONFIGS / 'ssdlite_mobilenetv2.py')).model
    cfg.type = model_type
    cfg.backbone.update(widen_factor=0.25, init_cfg=None)
    channels = (24, 1280, 64, 32, 32, 16)
    cfg.neck.update(in_channels=channels[:2], out_channels=channels)
    cfg.bbox_head.update(in_channels=channels, num_classes=num_classes)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def batch(size: int = 96, num_images: int = 2):
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(num_images)]
    samples = []
    for i in range(num_images):
        sample = DetDataSample(metainfo=dict(img_id=i, img_shape=(size, size), ori_shape=(size, size),
                                             scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 12., 60., 80.]]),
                                           labels=torch.tensor([i]))
        samples.append(sample)
    return dict(inputs=images, data_samples=samples)


def test_train_and_test_cfg_reach_the_head():
    model = small_ssdlite()
    assert model.bbox_head.train_cfg['neg_pos_ratio'] == 3
    assert model.bbox_head.test_cfg['max_per_img'] == 200
    assert model.bbox_head.num_classes == 3


def test_mmdetection_type_name_builds_our_detector():
    assert type(small_ssdlite(model_type='SingleStageDetector')) is SSD


def test_tensor_mode_gives_raw_outputs_per_level():
    model = small_ssdlite().eval()
    data = model.data_preprocessor(batch(96, 2))
    cls_scores, bbox_preds = model(data['inputs'], mode='tensor')
    anchors = model.bbox_head.prior_generator.num_base_priors
    sizes = (6, 3, 2, 1, 1, 1)
    assert [tuple(s.shape) for s in cls_scores] == [(2, a * 4, n, n) for a, n in zip(anchors, sizes)]
    assert [b.shape[1] for b in bbox_preds] == [a * 4 for a in anchors]


def test_loss_mode_backpropagates_to_backbone_and_head():
    model = small_ssdlite().train()
    data = model.data_preprocessor(batch(), True)
    assert data['padded_gt'].bboxes.shape[:2] == data['padded_gt'].valid.shape
    losses = model(**data, mode='loss')
    assert all(len(per_image) == 2 for per_image in losses.values())   # mmdetection's per-image lists
    model.parse_losses(losses)[0].backward()
    assert model.backbone.conv1.conv.weight.grad.abs().sum() > 0
    assert model.bbox_head.reg_convs[0][-1].weight.grad.abs().sum() > 0


def test_predict_mode_fills_pred_instances_and_keeps_metainfo():
    model = small_ssdlite().eval()
    data = model.data_preprocessor(batch())
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert [r.img_id for r in results] == [0, 1]
    assert all({'bboxes', 'scores', 'labels'} <= set(r.pred_instances.keys()) for r in results)


def test_invalid_mode_raises():
    with pytest.raises(RuntimeError, match='invalid mode'):
        small_ssdlite()(torch.zeros(1, 3, 8, 8), mode='train')


def test_too_small_images_name_the_minimum_size():
    register_all_modules()
    cfg = Config.fromfile(str(CONFIGS / 'ssd300.py')).model
    cfg.backbone.init_cfg = None
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match=r'200x220 .* SSDVGG\+SSDNeck .* >= 257'):
        model(torch.zeros(1, 3, 200, 220), mode='tensor')


def test_checkpoint_with_other_head_size_loads_the_rest_and_lists_skipped_keys(tmp_path):
    source = small_ssdlite(num_classes=3)
    path = tmp_path / 'three_classes.pth'
    save_checkpoint(source.state_dict(), str(path))
    target = small_ssdlite(num_classes=5)
    records = []
    logger = logging.getLogger('test_ssd_load_from')
    logger.addHandler(type('Collect', (logging.Handler,), {'emit': lambda self, r: records.append(r)})())
    load_checkpoint(target, str(path), map_location='cpu', logger=logger)
    message = '\n'.join(r.getMessage() for r in records if r.levelno >= logging.WARNING)
    # Every class predictor is skipped and named; the box predictors and the backbone load.
    for level in range(6):
        assert f'size mismatch for bbox_head.cls_convs.{level}.1.weight' in message
    assert 'reg_convs' not in message
    assert torch.equal(target.backbone.conv1.conv.weight, source.backbone.conv1.conv.weight)
    assert torch.equal(target.bbox_head.reg_convs[0][1].weight, source.bbox_head.reg_convs[0][1].weight)
    assert target.bbox_head.cls_convs[0][1].weight.shape[0] == 6 * 6


def test_an_image_whose_bounded_nms_was_not_final_is_recomputed_exactly():
    """With a window of 4 NMS candidates no image's result can be final: each one is run again
    alone through the exact path, and the detections equal those of an unbounded NMS."""
    model = random_detector('synthetic_demo.py', 192)
    images = torch.rand(2, 3, 192, 192) * 255
    model.bbox_head.test_cfg['nms_candidates'] = -1
    expected = torch_detections(model, images)
    model.bbox_head.test_cfg['nms_candidates'] = 4
    img_shapes = torch.tensor([[192, 192]] * 2)
    with torch.no_grad():
        bounded = model.predict_graph(model.data_preprocessor.normalise(images), img_shapes, None)
    assert not bounded.exact.any()
    for want, got in zip(expected, torch_detections(model, images)):
        assert len(want) > 4
        assert_same_detections(want, got)
