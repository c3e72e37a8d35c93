import numpy as np
import pytest

from ssd_npu.datasets.transforms import LoadAnnotations


def test_instances_become_typed_arrays():
    results = LoadAnnotations()(dict(instances=[
        dict(bbox=[1, 2, 3, 4], bbox_label=2, ignore_flag=0),
        dict(bbox=[5.5, 6, 7, 8], bbox_label=0, ignore_flag=1)]))
    assert results['gt_bboxes'].dtype == np.float32
    np.testing.assert_array_equal(results['gt_bboxes'], [[1, 2, 3, 4], [5.5, 6, 7, 8]])
    assert results['gt_bboxes_labels'].dtype == np.int64
    assert results['gt_bboxes_labels'].tolist() == [2, 0]
    assert results['gt_ignore_flags'].dtype == bool
    assert results['gt_ignore_flags'].tolist() == [False, True]


def test_no_instances_give_empty_arrays_of_the_right_shape():
    results = LoadAnnotations()(dict(instances=[]))
    assert results['gt_bboxes'].shape == (0, 4) and results['gt_bboxes'].dtype == np.float32
    assert results['gt_bboxes_labels'].shape == (0,)
    assert results['gt_ignore_flags'].shape == (0,)


def test_mmdetection_arguments_for_boxes_are_accepted():
    load = LoadAnnotations(with_bbox=True, with_label=False, with_mask=False, poly2mask=False, box_type=None,
                           with_seg=False, reduce_zero_label=True, ignore_index=0)
    results = load(dict(instances=[dict(bbox=[1, 2, 3, 4], bbox_label=2, ignore_flag=0)]))
    assert results['gt_bboxes'].tolist() == [[1, 2, 3, 4]] and 'gt_bboxes_labels' not in results
    assert 'gt_bboxes' not in LoadAnnotations(with_bbox=False)(dict(instances=[]))


@pytest.mark.parametrize('kwargs, message', [
    (dict(with_mask=True), 'with_mask=True is not supported by ssd_npu'),
    (dict(with_seg=True), 'with_seg=True is not supported by ssd_npu'),
    (dict(with_mask=True, with_seg=True), 'with_mask=True, with_seg=True is not supported'),
    (dict(box_type='rbox'), "box_type 'rbox' is not supported by ssd_npu"),
])
def test_masks_segmentation_and_other_box_types_are_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoadAnnotations(**kwargs)
