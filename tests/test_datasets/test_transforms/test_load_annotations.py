import numpy as np

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
