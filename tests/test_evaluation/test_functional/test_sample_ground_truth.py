"""GT boxes of the network input are mapped back to original-image pixels."""
import numpy as np
import pytest
import torch

from ssd_npu.evaluation.functional import boxes_to_original, original_ground_truth


def test_resize_and_horizontal_flip_are_undone():
    # Original 200 wide x 100 high, resized to 300x300 (w x3, h x3), then flipped horizontally.
    original = np.array([[10, 20, 50, 60]], dtype=np.float32)
    resized = original * 3
    flipped = resized.copy()
    flipped[:, [0, 2]] = 600 - resized[:, [2, 0]]
    meta = dict(scale_factor=(3.0, 3.0), img_shape=(300, 600), flip=True, flip_direction='horizontal')
    np.testing.assert_allclose(boxes_to_original(flipped, meta), original)


def test_original_ground_truth_splits_ignored_and_needs_gt():
    sample = dict(img_id=7, ori_shape=(100, 200), scale_factor=(0.5, 2.0),
                  gt_instances=dict(bboxes=torch.tensor([[5., 40., 25., 80.]]), labels=torch.tensor([2])),
                  ignored_instances=dict(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long)))
    # Annotations loaded before Resize: undo the scale.
    gt = original_ground_truth(sample, rescale=True)
    np.testing.assert_allclose(gt['bboxes'], [[10, 20, 50, 40]])
    # Loaded after Resize (mmdetection's test pipelines): already original pixels.
    np.testing.assert_allclose(original_ground_truth(sample)['bboxes'], [[5, 40, 25, 80]])
    assert gt['labels'].tolist() == [2] and gt['bboxes_ignore'].shape == (0, 4)
    with pytest.raises(KeyError, match='image 7 has no gt_instances'):
        original_ground_truth(dict(img_id=7, pred_instances={}))
