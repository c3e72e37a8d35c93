"""DetLocalVisualizer draws boxes where they are, headless, GT and prediction side by side."""
import uuid

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from ssd_npu.registry import VISUALIZERS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample
from ssd_npu.visualization import DetLocalVisualizer, adaptive_scales, get_palette

H, W = 100, 120


def _sample(with_pred=True):
    sample = DetDataSample()
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 20., 60., 80.]]), labels=torch.tensor([1]))
    if with_pred:
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor([[30., 10., 110., 50.], [5., 5., 15., 15.], [float('nan'), 0., 1., 1.]]),
            scores=torch.tensor([0.9, 0.1, 0.95]), labels=torch.tensor([0, 1, 0]))
    return sample


def _visualizer(**kwargs):
    visualizer = DetLocalVisualizer(name=f'vis-{uuid.uuid4().hex}', **kwargs)
    visualizer.dataset_meta = dict(classes=('cat', 'dog'), palette=[(255, 0, 0), (0, 0, 255)])
    return visualizer


def _changed(drawn, image):
    return np.abs(drawn.astype(int) - image.astype(int)).sum(axis=-1) > 30


def test_gt_and_prediction_side_by_side_png(tmp_path):
    image = np.full((H, W, 3), 128, dtype=np.uint8)
    out = tmp_path / 'vis.png'
    _visualizer().add_datasample('img', image, _sample(), out_file=str(out), pred_score_thr=0.3)
    drawn = cv2.imread(str(out))[..., ::-1]
    assert drawn.shape == (H, 2 * W, 3)
    gt_half, pred_half = _changed(drawn[:, :W], image), _changed(drawn[:, W:], image)
    # GT box edges (x=10 and x=60, y from 20 to 80) on the left; the dog box is blue.
    assert gt_half[50, 10] and gt_half[50, 60] and not gt_half[50, 35]
    assert drawn[50, 10, 2] > drawn[50, 10, 0]
    # The 0.9 prediction (x 30..110, y 10..50) on the right; the 0.1 one (5..15) is under the threshold.
    assert pred_half[30, 30] and pred_half[30, 110] and not pred_half[45, 70]
    assert drawn[30, W + 110, 0] > drawn[30, W + 110, 2]
    assert not pred_half[10, 5]
    assert not _changed(drawn[95:, W:], image[95:]).any()


def test_gt_only_jpg_and_registry_build(tmp_path):
    register_all_modules()
    visualizer = VISUALIZERS.build(dict(type='DetLocalVisualizer', name=f'vis-{uuid.uuid4().hex}',
                                        bbox_color='green', line_width=2))
    visualizer.dataset_meta = dict(classes=('cat', 'dog'))
    image = np.zeros((H, W, 3), dtype=np.uint8)
    out = tmp_path / 'gt.jpg'
    visualizer.add_datasample('img', image, _sample(with_pred=False), draw_pred=False, out_file=str(out))
    drawn = cv2.imread(str(out))
    assert drawn.shape == (H, W, 3)
    blue, green, red = drawn[50, 10].astype(int)  # BGR on disk
    assert green > 60 and green > blue + 40 and green > red + 40  # matplotlib's 'green' is (0, 128, 0)


def test_without_out_file_the_image_goes_to_the_backends(tmp_path):
    visualizer = _visualizer(vis_backends=[dict(type='LocalVisBackend')], save_dir=str(tmp_path))
    visualizer.add_datasample('sample', np.zeros((H, W, 3), dtype=np.uint8), _sample(), step=3)
    written = list((tmp_path / 'vis_data' / 'vis_image').glob('sample_3.png'))
    assert len(written) == 1
    assert cv2.imread(str(written[0])).shape == (H, 2 * W, 3)


def test_palette_and_scales():
    assert get_palette([(1, 2, 3), (4, 5, 6)], 2) == [(1, 2, 3), (4, 5, 6)]
    assert get_palette('red', 2) == [(255, 0, 0), (255, 0, 0)]
    assert get_palette(None, 3) == get_palette('random', 3) and len(get_palette(None, 3)) == 3
    with pytest.raises(ValueError, match='1 colours for 2 classes'):
        get_palette([(1, 2, 3)], 2)
    np.testing.assert_allclose(adaptive_scales(np.array([100, 800 + 0.25 * 29200, 1e6])), [0.5, 0.75, 1.0])
