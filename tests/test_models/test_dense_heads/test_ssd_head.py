"""SSDHead: batched loss == per-image reference, edge cases, inference contract, mmdetection layout."""
import math

import pytest
import torch
from mmengine.structures import InstanceData
from torch.profiler import profile

from ssd_npu.models.dense_heads import SSDHead
from ssd_npu.models.dense_heads.ssd_post_processing import _rank_within_label
from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample
from ssd_npu.testing.ssd_head_oracle import detections_reference, ssd_loss_reference

register_all_modules()

NUM_CLASSES = 5
FEAT_SIZES = [8, 4, 2, 1]            # a 64x64 input
SMALL_ANCHORS = dict(type='SSDAnchorGenerator', scale_major=False, input_size=64, strides=[8, 16, 32, 64],
                     ratios=[[2], [2, 3], [2, 3], [2]], min_sizes=[8, 20, 36, 52], max_sizes=[20, 36, 52, 64])
SSD_CODER = dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4, target_stds=[0.1, 0.1, 0.2, 0.2])
TRAIN_CFG = dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.,
                               ignore_iof_thr=-1, gt_max_assign_all=False),
                 sampler=dict(type='PseudoSampler'), smoothl1_beta=1., allowed_border=-1, pos_weight=-1,
                 neg_pos_ratio=3, debug=False, gt_pad_size=16)
TEST_CFG = dict(nms_pre=1000, nms=dict(type='nms', iou_threshold=0.45), min_bbox_size=0, score_thr=0.02,
                max_per_img=200)


def small_head(train_cfg=TRAIN_CFG, **kwargs) -> SSDHead:
    torch.manual_seed(0)
    args = dict(type='SSDHead', num_classes=NUM_CLASSES, in_channels=(8, 8, 8, 8),
                anchor_generator=SMALL_ANCHORS, bbox_coder=SSD_CODER, train_cfg=train_cfg, test_cfg=TEST_CFG)
    head = MODELS.build({**args, **kwargs})
    head.init_weights()
    return head


def features(batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, 8, s, s, generator=g) for s in FEAT_SIZES)


def random_instances(n: int, g: torch.Generator, size: int = 64) -> InstanceData:
    xy = torch.rand(n, 2, generator=g) * (size - 12)
    wh = 6 + torch.rand(n, 2, generator=g) * (size / 2)
    return InstanceData(bboxes=torch.cat([xy, (xy + wh).clamp(max=size)], dim=1),
                        labels=torch.randint(0, NUM_CLASSES, (n,), generator=g))


def samples(counts, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    out = []
    meta = dict(img_shape=(64, 64), ori_shape=(128, 256), scale_factor=(0.25, 0.5))
    for n in counts:
        sample = DetDataSample(metainfo=meta)
        sample.gt_instances = random_instances(n, g)
        out.append(sample)
    return out


def head_outputs(head: SSDHead, batch: int, seed: int):
    """Random logits/deltas of the right shapes (the head's losses see only these)."""
    g = torch.Generator().manual_seed(seed)
    cls = [torch.randn(batch, a * (NUM_CLASSES + 1), s, s, generator=g) * 2
           for a, s in zip(head.num_base_priors, FEAT_SIZES)]
    reg = [torch.randn(batch, a * 4, s, s, generator=g) for a, s in zip(head.num_base_priors, FEAT_SIZES)]
    return cls, reg


def batched_loss(head: SSDHead, cls, reg, gts, ignores=None) -> dict:
    """``loss_by_feat`` with its per-image lists summed, as mmengine's ``parse_losses`` does."""
    loss = head.loss_by_feat(cls, reg, gts, [dict(img_shape=(64, 64))] * len(gts), ignores)
    assert all(isinstance(v, list) and len(v) == len(gts) for v in loss.values())
    return {key: sum(values) for key, values in loss.items()}


def summed(loss: dict) -> dict:
    return {key: sum(values) for key, values in loss.items()}


LOSS_VARIANTS = {
    'ssd': {},
    'gt_max_assign_all': dict(assigner={**TRAIN_CFG['assigner'], 'gt_max_assign_all': True}),
    'pos_weight': dict(pos_weight=2.0),
    'all_negatives': dict(neg_pos_ratio=1000),
    'pad_to_batch_max': dict(gt_pad_size=0),
    'beta': dict(smoothl1_beta=0.3),
}


@pytest.mark.parametrize('variant', LOSS_VARIANTS)
@pytest.mark.parametrize('seed', range(2))
def test_batched_loss_equals_per_image_reference(variant, seed):
    head = small_head({**TRAIN_CFG, **LOSS_VARIANTS[variant]})
    batch = samples([0, 1, 4, 9], seed=seed)   # an empty image and different GT counts
    cls, reg = head_outputs(head, 4, seed)
    gts = [s.gt_instances for s in batch]
    loss = batched_loss(head, cls, reg, gts)
    expected = ssd_loss_reference(head, cls, reg, gts)
    for key in ('loss_cls', 'loss_bbox'):
        torch.testing.assert_close(loss[key], expected[key], rtol=1e-5, atol=1e-6)
        assert loss[key].dtype == torch.float32


def test_decoded_box_regression_equals_reference():
    head = small_head(reg_decoded_bbox=True)
    cls, reg = head_outputs(head, 3, 1)
    gts = [s.gt_instances for s in samples([2, 0, 5], seed=1)]
    loss, expected = batched_loss(head, cls, reg, gts), ssd_loss_reference(head, cls, reg, gts)
    torch.testing.assert_close(loss['loss_bbox'], expected['loss_bbox'])


def test_ignored_regions_equal_reference():
    head = small_head({**TRAIN_CFG, 'assigner': {**TRAIN_CFG['assigner'], 'ignore_iof_thr': 0.5}})
    batch = samples([3, 2], seed=4)
    batch[0].ignored_instances = InstanceData(bboxes=torch.tensor([[0., 0., 40., 40.]]))
    cls, reg = head_outputs(head, 2, 4)
    ignores = [s.ignored_instances if 'ignored_instances' in s else InstanceData(bboxes=torch.zeros(0, 4))
               for s in batch]
    loss = batched_loss(head, cls, reg, [s.gt_instances for s in batch], ignores)
    expected = ssd_loss_reference(head, cls, reg, [s.gt_instances for s in batch], ignores)
    torch.testing.assert_close(loss['loss_cls'], expected['loss_cls'])
    plain = batched_loss(head, cls, reg, [s.gt_instances for s in batch])
    assert not torch.allclose(plain['loss_cls'], loss['loss_cls'])


def test_hand_computed_loss():
    """Two anchors: [0, 0, 10, 10] matches the GT exactly (IoU 1), [-5, -5, 15, 15] has IoU 0.25."""
    anchors = dict(type='SSDAnchorGenerator', strides=[10], ratios=[[]], min_sizes=[10], max_sizes=[40])
    head = SSDHead(num_classes=1, in_channels=(4,), anchor_generator=anchors, train_cfg=TRAIN_CFG)
    gt = [InstanceData(bboxes=torch.tensor([[0., 0., 10., 10.]]), labels=torch.tensor([0]))]
    loss = batched_loss(head, [torch.zeros(1, 4, 1, 1)], [torch.ones(1, 8, 1, 1)], gt)
    # 1 positive + min(3, 1) negative, each CE = log 2, over N = 1; SmoothL1(1) = 0.5 on 4 coordinates.
    torch.testing.assert_close(loss['loss_cls'], torch.tensor(2 * math.log(2)))
    torch.testing.assert_close(loss['loss_bbox'], torch.tensor(2.0))


def test_gt_beyond_pad_size_still_counts():
    head = small_head({**TRAIN_CFG, 'gt_pad_size': 2})
    cls, reg = head_outputs(head, 2, 3)
    gts = [s.gt_instances for s in samples([6, 1], seed=3)]
    torch.testing.assert_close(batched_loss(head, cls, reg, gts)['loss_cls'],
                               ssd_loss_reference(head, cls, reg, gts)['loss_cls'])


def test_empty_gt_batch_gives_zero_finite_losses_and_gradients():
    head = small_head()
    loss = summed(head.loss(features(2), samples([0, 0])))
    # mmdetection: no positives -> no mined negatives -> both losses 0 (normaliser >= 1 per image).
    assert loss['loss_cls'].item() == 0 and loss['loss_bbox'].item() == 0
    sum(loss.values()).backward()
    assert all(p.grad is None or p.grad.isfinite().all() for p in head.parameters())


def test_degenerate_gt_box_is_ignored_not_nan():
    head = small_head()
    batch = samples([2])
    batch[0].gt_instances.bboxes[0] = torch.tensor([10., 10., 10., 30.])   # zero width
    loss = summed(head.loss(features(1), batch))
    assert all(v.isfinite() for v in loss.values())


def test_losses_are_float32_under_autocast():
    head = small_head()
    cls, reg = head_outputs(head, 2, 5)
    gts = [s.gt_instances for s in samples([3, 1], seed=5)]
    cls16, reg16 = [c.bfloat16() for c in cls], [r.bfloat16() for r in reg]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = batched_loss(head, cls16, reg16, gts)
    expected = ssd_loss_reference(head, [c.float() for c in cls16], [r.float() for r in reg16], gts)
    for key in loss:
        assert loss[key].dtype == torch.float32
        torch.testing.assert_close(loss[key], expected[key])


def test_training_loss_has_no_data_dependent_ops():
    head = small_head()
    cls, reg = head_outputs(head, 3, 6)
    gts = [s.gt_instances for s in samples([0, 2, 5], seed=6)]
    with profile() as prof:
        batched_loss(head, cls, reg, gts)
    ops = {event.name for event in prof.events()}
    assert not ops & {'aten::nonzero', 'aten::_local_scalar_dense', 'aten::masked_select', 'aten::unique',
                      'aten::_unique2', 'aten::topk'}


def test_predict_contract():
    head = small_head()
    head.eval()
    x = features(2, seed=7)
    batch = samples([1, 1])
    scaled = head.predict(x, batch, rescale=True)
    raw = head.predict(x, batch, rescale=False)
    assert len(raw) == 2
    for det, det_scaled in zip(raw, scaled):
        n = len(det)
        assert 0 < n <= TEST_CFG['max_per_img']
        assert det.bboxes.shape == (n, 4) and det.scores.shape == (n,) and det.labels.shape == (n,)
        assert det.labels.dtype == torch.long
        assert det.labels.min() >= 0 and det.labels.max() < NUM_CLASSES
        assert (det.scores > TEST_CFG['score_thr']).all()
        assert (det.scores[:-1] >= det.scores[1:]).all()
        assert det.bboxes.min() >= 0 and det.bboxes.max() <= 64            # clipped to img_shape
        # rescale divides x by w_scale 0.25 and y by h_scale 0.5.
        torch.testing.assert_close(det_scaled.bboxes, det.bboxes / torch.tensor([0.25, 0.5, 0.25, 0.5]))


def test_predict_limits():
    head = small_head()
    head.eval()
    head.test_cfg = {**TEST_CFG, 'max_per_img': 3}
    assert [len(d) for d in head.predict(features(2), samples([0, 0]))] == [3, 3]
    head.test_cfg = {**TEST_CFG, 'min_bbox_size': 1000}
    empty = head.predict(features(1), samples([0]))[0]
    assert empty.bboxes.shape == (0, 4) and empty.labels.shape == (0,)


SSD300_HEAD = dict(num_classes=80, in_channels=(512, 1024, 512, 256, 256, 256), bbox_coder=SSD_CODER)


def test_ssd300_state_dict_layout_matches_mmdetection():
    shapes = {k: tuple(v.shape) for k, v in SSDHead(**SSD300_HEAD).state_dict().items()}
    assert len(shapes) == 24
    assert shapes['cls_convs.0.0.weight'] == (4 * 81, 512, 3, 3)
    assert shapes['cls_convs.1.0.weight'] == (6 * 81, 1024, 3, 3)
    assert shapes['reg_convs.5.0.weight'] == (4 * 4, 256, 3, 3)
    assert shapes['reg_convs.5.0.bias'] == (16,)


def test_ssdlite_depthwise_state_dict_layout_matches_mmdetection():
    head = SSDHead(num_classes=80, in_channels=(96, 1280, 512, 256, 256, 128), use_depthwise=True,
                   norm_cfg=dict(type='BN', eps=0.001, momentum=0.03), act_cfg=dict(type='ReLU6'),
                   init_cfg=dict(type='Normal', layer='Conv2d', std=0.001),
                   anchor_generator=dict(type='SSDAnchorGenerator', scale_major=False,
                                         strides=[16, 32, 64, 107, 160, 320], ratios=[[2, 3]] * 6,
                                         min_sizes=[48, 100, 150, 202, 253, 304],
                                         max_sizes=[100, 150, 202, 253, 304, 320]))
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items() if k.startswith('cls_convs.0.')}
    assert shapes == {
        'cls_convs.0.0.conv.weight': (96, 1, 3, 3),
        'cls_convs.0.0.bn.weight': (96,), 'cls_convs.0.0.bn.bias': (96,),
        'cls_convs.0.0.bn.running_mean': (96,), 'cls_convs.0.0.bn.running_var': (96,),
        'cls_convs.0.0.bn.num_batches_tracked': (),
        'cls_convs.0.1.weight': (6 * 81, 96, 1, 1), 'cls_convs.0.1.bias': (6 * 81,),
    }
    assert isinstance(head.reg_convs[5][0].activate, torch.nn.ReLU6)


def test_stacked_depthwise_tower_layout():
    head = SSDHead(num_classes=3, in_channels=(16,) * 6, stacked_convs=1, feat_channels=8, use_depthwise=True,
                   norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU6'))
    keys = [k for k in head.state_dict() if k.startswith('reg_convs.0.') and k.endswith('weight')]
    assert keys == ['reg_convs.0.0.depthwise_conv.conv.weight', 'reg_convs.0.0.depthwise_conv.bn.weight',
                    'reg_convs.0.0.pointwise_conv.conv.weight', 'reg_convs.0.0.pointwise_conv.bn.weight',
                    'reg_convs.0.1.conv.weight', 'reg_convs.0.1.bn.weight', 'reg_convs.0.2.weight']


def test_xavier_init_zeroes_biases():
    head = small_head()
    assert all((conv[-1].bias == 0).all() for conv in head.cls_convs)


@pytest.mark.parametrize('kwargs, message', [
    (dict(in_channels=(8, 8, 8)), 'in_channels names 3 feature maps but the anchor generator has 4 levels'),
    (dict(train_cfg={**TRAIN_CFG, 'sampler': dict(type='MaxIoUAssigner', pos_iou_thr=.5, neg_iou_thr=.5)}),
     'sampler must be PseudoSampler'),
    (dict(train_cfg={**TRAIN_CFG, 'allowed_border': 0}), 'allowed_border must be -1'),
])
def test_bad_config_fails_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_head(**kwargs)


def test_wrong_inputs_raise_clear_errors():
    head = small_head()
    with pytest.raises(ValueError, match='got 3 feature maps, expected 4'):
        head(features(1)[:3])
    head.test_cfg = None
    with pytest.raises(ValueError, match='predict needs test_cfg'):
        head.predict(features(1), samples([0]))
    head.train_cfg = None
    with pytest.raises(ValueError, match='loss needs train_cfg'):
        head.loss(features(1), samples([1]))


def test_rank_within_label_orders_each_labels_scores():
    scores = torch.tensor([[0.9, 0.1, 0.8, 0.7, 0.6, 0.95, 0.2]])
    labels = torch.tensor([[0, 0, 1, 0, 1, 2, 1]])
    assert _rank_within_label(scores, labels).tolist() == [[0, 2, 0, 1, 1, 0, 2]]


@pytest.mark.parametrize('nms_candidates', [-1, 8, 400])
@pytest.mark.parametrize('max_per_img', [5, 200])
def test_batched_detections_equal_mmdetection_per_image_post_processing(nms_candidates, max_per_img):
    """Static batched post-processing == mmdetection's per-image algorithm (torchvision's NMS kernel),
    also when the bounded NMS window is too small and images fall back to the exact path."""
    head = small_head()
    head.eval()
    head.test_cfg = {**TEST_CFG, 'max_per_img': max_per_img, 'nms_candidates': nms_candidates}
    cls, reg = head_outputs(head, 3, seed=11)
    metas = [s.metainfo for s in samples([0, 0, 0])]
    got = head.predict_by_feat(cls, reg, batch_img_metas=metas, rescale=True)
    expected = detections_reference(head, cls, reg, metas, rescale=True)
    for det, (bboxes, scores, labels) in zip(got, expected):
        assert len(det) == len(bboxes) > 0
        torch.testing.assert_close(det.bboxes, bboxes, atol=1e-3, rtol=0)
        torch.testing.assert_close(det.scores, scores, atol=1e-5, rtol=0)
        assert torch.equal(det.labels, labels)


def test_bounded_nms_reports_when_it_is_not_final():
    head = small_head()
    head.test_cfg = {**TEST_CFG, 'nms_candidates': 8}
    cls, reg = head_outputs(head, 2, seed=11)
    dets = head.batch_detections(cls, reg, torch.full((2, 2), 64))
    # 8 candidates cannot hold 200 survivors while more valid candidates wait outside the window.
    assert dets.bboxes.shape == (2, 8, 4) and not dets.exact.any()
    head.test_cfg = {**TEST_CFG, 'nms_candidates': -1}
    assert head.batch_detections(cls, reg, torch.full((2, 2), 64)).exact.all()
