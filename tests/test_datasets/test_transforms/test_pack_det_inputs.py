import numpy as np
import torch

from ssd_npu.datasets.transforms import PackDetInputs
from ssd_npu.structures import DetDataSample


def results():
    img = np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)
    return dict(img=img, img_id=7, img_path='a.jpg', ori_shape=(60, 80), img_shape=(30, 40),
                scale_factor=(0.5, 0.5), flip=False, flip_direction=None, other='not packed',
                gt_bboxes=np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], np.float32),
                gt_bboxes_labels=np.array([0, 1, 2]), gt_ignore_flags=np.array([False, True, False]))


def test_packs_the_data_contract():
    source = results()
    packed = PackDetInputs()(dict(source))
    inputs = packed['inputs']
    assert inputs.dtype == torch.uint8 and inputs.shape == (3, 30, 40)
    assert torch.equal(inputs, torch.from_numpy(source['img']).permute(2, 0, 1))
    sample = packed['data_samples']
    assert isinstance(sample, DetDataSample)
    gt, ignored = sample.gt_instances, sample.ignored_instances
    assert gt.bboxes.dtype == torch.float32 and gt.labels.dtype == torch.int64
    assert gt.bboxes.tolist() == [[1, 2, 3, 4], [9, 10, 11, 12]] and gt.labels.tolist() == [0, 2]
    assert ignored.bboxes.tolist() == [[5, 6, 7, 8]] and ignored.labels.tolist() == [1]
    assert sample.metainfo == dict(img_id=7, img_path='a.jpg', ori_shape=(60, 80),
                                   img_shape=(30, 40), scale_factor=(0.5, 0.5), flip=False,
                                   flip_direction=None)


def test_no_boxes_give_empty_instances_with_four_columns():
    packed = PackDetInputs()(dict(results(), gt_bboxes=np.zeros((0, 4), np.float32),
                                  gt_bboxes_labels=np.zeros(0, np.int64),
                                  gt_ignore_flags=np.zeros(0, bool)))
    sample = packed['data_samples']
    assert sample.gt_instances.bboxes.shape == (0, 4)
    assert sample.ignored_instances.bboxes.shape == (0, 4)


def test_strided_images_are_packed_contiguous_and_meta_keys_are_selectable():
    source = results()
    view = source['img'][5:25, 10:30]
    packed = PackDetInputs(meta_keys=('img_id', 'scale_factor'))(dict(source, img=view))
    assert packed['inputs'].is_contiguous()
    assert torch.equal(packed['inputs'], torch.from_numpy(np.ascontiguousarray(view)).permute(2, 0, 1))
    assert set(packed['data_samples'].metainfo) == {'img_id', 'scale_factor'}
