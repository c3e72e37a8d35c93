"""torchvision's ssd300_vgg16, converted, gives torchvision's detections in our SSD.

What is proven here, on random weights (no download):
- the default boxes of configs/ssd300_coco_torchvision.py equal torchvision's DefaultBoxGenerator's;
- the converted network gives torchvision's raw class logits (reordered: 80 COCO classes, background
  last) and box deltas, and the decoded boxes agree;
- the full path (tools/model_converters/torchvision_to_ssd_npu.py -> init_detector ->
  inference_detector on a BGR array with the config's test pipeline) gives torchvision's boxes,
  scores and labels on an image whose resize is exact for both (block-constant pixels).
The detections agree, with torchvision's per-class top-k (``test_cfg.topk_per_class``) both at its
default 400 and at a limit that binds, under conditions the test asserts: no dw/dh below
-log(1000/16) (torchvision clamps only above), and torchvision's 10 unused "N/A" classes have
negligible logits (our head has no channel for them; the test gives them -1e4).
"""
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from repo_paths import CONFIGS_DIR
from torchvision.models.detection import SSD300_VGG16_Weights, ssd300_vgg16
from torchvision.models.detection.image_list import ImageList

from ssd_npu.apis import inference_detector, init_detector
from ssd_npu.datasets.coco import CocoDataset
from ssd_npu.models.detectors.torchvision_conversion import (
    COCO_CATEGORY_IDS,
    convert_torchvision_ssd300_vgg16,
)
from ssd_npu.registry import TASK_UTILS

REPO = Path(__file__).resolve().parents[2]
CONFIG = CONFIGS_DIR / 'ssd300_coco_torchvision.py'
TOOL = REPO / 'tools' / 'model_converters' / 'torchvision_to_ssd_npu.py'
ANCHOR_GENERATOR = dict(type='SSDAnchorGenerator', scale_major=False, input_size=300,
                        strides=[8, 16, 32, 64, 100, 300], ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                        min_sizes=[21, 45, 99, 153, 207, 261], max_sizes=[45, 99, 153, 207, 261, 315])
LEVEL_SIZES = [38, 19, 10, 5, 3, 1]


@pytest.fixture(scope='module')
def torchvision_model():
    torch.manual_seed(0)
    model = ssd300_vgg16(weights=None, weights_backbone=None).eval()
    unused = torch.ones(91, dtype=torch.bool)
    unused[[0, *COCO_CATEGORY_IDS]] = False
    with torch.no_grad():
        # Random VGG features give logits of std ~3 and deltas of std ~4.5; scale them to those of
        # a trained detector (mostly background, a few confident boxes) so that detections are sparse.
        for conv in model.head.classification_head.module_list:
            conv.weight.mul_(0.3)
            bias = conv.bias.view(-1, 91)
            bias.zero_()
            bias[:, 0] = 9.
            bias[:, unused] = -1e4
        for conv in model.head.regression_head.module_list:
            conv.weight.mul_(0.25)
    return model


@pytest.fixture(scope='module')
def block_image():
    """600x900 BGR image made of 2x3 blocks: resizing it to 300x300 is exact for cv2 and torch."""
    small = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    return np.repeat(np.repeat(small, 2, axis=0), 3, axis=1)


@pytest.fixture(scope='module')
def converted_checkpoint(torchvision_model, tmp_path_factory):
    """The CLI's output for the torchvision reference-training checkpoint format ({'model': ...})."""
    folder = tmp_path_factory.mktemp('tv')
    torch.save({'model': torchvision_model.state_dict()}, folder / 'tv.pth')
    argv = sys.argv
    sys.argv = [str(TOOL), str(folder / 'tv.pth'), str(folder / 'ours.pth')]
    try:
        runpy.run_path(str(TOOL), run_name='__main__')
    finally:
        sys.argv = argv
    return folder / 'ours.pth'


@pytest.fixture(scope='module')
def model(converted_checkpoint):
    return init_detector(str(CONFIG), str(converted_checkpoint))


def test_category_ids_map_torchvision_names_to_ours():
    names = SSD300_VGG16_Weights.COCO_V1.meta['categories']
    assert tuple(names[i] for i in COCO_CATEGORY_IDS) == tuple(CocoDataset.METAINFO['classes'])


@pytest.mark.parametrize('clip, num_different', [(True, 0), (False, 2)])
def test_default_boxes_equal_torchvision_with_clipping(torchvision_model, clip, num_different):
    images = ImageList(torch.zeros(1, 3, 300, 300), [(300, 300)])
    feats = [torch.zeros(1, 1, n, n) for n in LEVEL_SIZES]
    expected = torchvision_model.anchor_generator(images, feats)[0]
    ours = torch.cat(TASK_UTILS.build({**ANCHOR_GENERATOR, 'clip_base_wh': clip}).grid_priors(
        [(n, n) for n in LEVEL_SIZES]))
    assert ours.shape == expected.shape == (8732, 4)
    different = ~torch.isclose(ours, expected, atol=1e-3).all(dim=1)
    # Without clipping, only the two elongated boxes of the 1x1 level (wider than the image) differ.
    assert int(different.sum()) == num_different
    if num_different:
        assert different[-4:].tolist() == [False, False, True, True]


@pytest.mark.slow
def test_raw_outputs_and_decoded_boxes_equal_torchvision(torchvision_model, model, block_image):
    rgb = torch.from_numpy(block_image[::-1, ::-1].copy()).permute(2, 0, 1).float().flip(0) / 255
    with torch.no_grad():
        images, _ = torchvision_model.transform([rgb])
        tv_out = torchvision_model.head(list(torchvision_model.backbone(images.tensors).values()))
        cls_scores, bbox_preds = model(images.tensors, mode='tensor')
    ours_logits = torch.cat([s.permute(0, 2, 3, 1).reshape(1, -1, 81) for s in cls_scores], dim=1)
    ours_deltas = torch.cat([b.permute(0, 2, 3, 1).reshape(1, -1, 4) for b in bbox_preds], dim=1)
    torch.testing.assert_close(ours_logits, tv_out['cls_logits'][..., [*COCO_CATEGORY_IDS, 0]],
                               rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(ours_deltas, tv_out['bbox_regression'], rtol=1e-4, atol=1e-4)

    anchors = model.bbox_head.flat_anchors([s.shape[-2:] for s in cls_scores], torch.device('cpu'))
    ours_boxes = model.bbox_head.bbox_coder.decode(anchors, ours_deltas[0])
    tv_boxes = torchvision_model.box_coder.decode_single(tv_out['bbox_regression'][0], anchors)
    torch.testing.assert_close(ours_boxes, tv_boxes, rtol=1e-4, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize('topk', [400, 20])
def test_converted_model_gives_torchvision_detections(torchvision_model, model, block_image, topk):
    """topk 400 is torchvision's default; at 20 the per-class limit decides which boxes reach NMS."""
    rgb = torch.from_numpy(np.ascontiguousarray(block_image[..., ::-1])).permute(2, 0, 1).float() / 255
    torchvision_model.topk_candidates = topk
    model.bbox_head.test_cfg['topk_per_class'] = topk
    try:
        with torch.no_grad():
            expected = torchvision_model([rgb])[0]
            images, _ = torchvision_model.transform([rgb])
            tv_out = torchvision_model.head(list(torchvision_model.backbone(images.tensors).values()))
        result = inference_detector(model, block_image)
    finally:
        torchvision_model.topk_candidates = 400
        model.bbox_head.test_cfg['topk_per_class'] = 400
    class_scores = tv_out['cls_logits'][0].softmax(-1)[:, 1:]
    candidates_per_class = (class_scores > torchvision_model.score_thresh).sum(0)
    assert (candidates_per_class.max() > topk) == (topk == 20), 'the small limit is the one that binds'
    # Where the two post-processings would differ: torchvision clamps dw/dh only from above.
    assert tv_out['bbox_regression'][0, :, 2:].min() / 5 > -math.log(1000 / 16)

    pred = result.pred_instances
    assert result.ori_shape == (600, 900)
    assert len(pred) == len(expected['boxes']) > 0
    torch.testing.assert_close(pred.scores, expected['scores'], rtol=1e-4, atol=1e-5)
    assert torch.equal(torch.tensor(COCO_CATEGORY_IDS)[pred.labels], expected['labels'])
    torch.testing.assert_close(pred.bboxes, expected['boxes'], rtol=1e-4, atol=1e-2)


def test_converter_rejects_other_state_dicts(torchvision_model):
    state = torchvision_model.state_dict()
    with pytest.raises(KeyError, match='Not a torchvision ssd300_vgg16 state dict: missing .*scale_weight'):
        convert_torchvision_ssd300_vgg16({k: v for k, v in state.items() if k != 'backbone.scale_weight'})
    with pytest.raises(ValueError, match=r'category_ids \[0, 91\] are not foreground classes'):
        convert_torchvision_ssd300_vgg16(state, category_ids=(0, 5, 91))


def test_fine_tuned_torchvision_models_convert_with_their_own_ids(torchvision_model):
    """A torchvision model trained with num_classes=4 (background + 3) keeps its 3 classes."""
    state = dict(torchvision_model.state_dict())
    for level in range(6):
        for param in ('weight', 'bias'):
            key = f'head.classification_head.module_list.{level}.{param}'
            tensor = state[key]
            state[key] = tensor.reshape(-1, 91, *tensor.shape[1:])[:, :4].reshape(-1, *tensor.shape[1:])
    converted = convert_torchvision_ssd300_vgg16(state, category_ids=(1, 2, 3))
    bias = converted['bbox_head.cls_convs.0.0.bias'].view(4, 4)
    original = state['head.classification_head.module_list.0.bias'].view(4, 4)
    torch.testing.assert_close(bias, original[:, [1, 2, 3, 0]])
