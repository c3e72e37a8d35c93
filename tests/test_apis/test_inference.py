import re

import cv2
import numpy as np
import pytest
import torch
from detector_fixtures import SMALL_CLASSES as CLASSES
from detector_fixtures import small_ssdlite_config

from ssd_npu.apis import inference_detector, init_detector
from ssd_npu.structures import DetDataSample


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = init_detector(small_ssdlite_config())
    path = tmp_path_factory.mktemp('ckpt') / 'small.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path


@pytest.fixture(scope='module')
def model(checkpoint):
    return init_detector(small_ssdlite_config(), str(checkpoint))


@pytest.fixture(scope='module')
def image_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp('images') / 'img.png'
    cv2.imwrite(str(path), image)
    return path, image


def test_init_detector_loads_weights_and_class_names(model, checkpoint):
    saved = torch.load(checkpoint, weights_only=True)['state_dict']
    assert torch.equal(model.backbone.conv1.conv.weight, saved['backbone.conv1.conv.weight'])
    assert model.dataset_meta['classes'] == CLASSES
    assert not model.training


def test_path_and_array_give_the_same_detections_in_original_pixels(model, image_file):
    path, image = image_file
    from_path = inference_detector(model, path)
    from_array = inference_detector(model, image)
    assert isinstance(from_path, DetDataSample)
    assert from_path.ori_shape == (150, 200) and from_path.img_shape == (96, 96)
    pred = from_path.pred_instances
    assert len(pred) > 0
    torch.testing.assert_close(pred.bboxes, from_array.pred_instances.bboxes)
    torch.testing.assert_close(pred.scores, from_array.pred_instances.scores)
    assert (pred.bboxes[:, 0::2] <= 200).all() and (pred.bboxes[:, 1::2] <= 150).all()
    assert pred.bboxes[:, 2].max() > 96, 'boxes are rescaled from the 96x96 input to the 200-pixel width'


def test_a_list_gives_a_list_in_order_whatever_the_batch_size(model, image_file):
    path, image = image_file
    flipped = np.ascontiguousarray(image[::-1])
    one_by_one = [inference_detector(model, img) for img in (image, flipped, image)]
    batched = inference_detector(model, [image, flipped, str(path)], batch_size=2)
    assert isinstance(batched, list) and len(batched) == 3
    for single, result in zip(one_by_one, batched):
        torch.testing.assert_close(single.pred_instances.scores, result.pred_instances.scores,
                                   rtol=1e-4, atol=1e-5)


def test_cfg_options_override_the_config(checkpoint, image_file):
    model = init_detector(small_ssdlite_config(), str(checkpoint),
                          cfg_options={'model.test_cfg.max_per_img': 3})
    assert len(inference_detector(model, image_file[1]).pred_instances) <= 3


def test_class_names_default_to_the_dataset_class(checkpoint):
    # No metainfo in the config: CocoDataset's 80 names, which a 3-class head contradicts.
    with pytest.raises(ValueError, match='predicts 3 classes .* has 80'):
        init_detector(small_ssdlite_config(metainfo=False), str(checkpoint))


def test_checkpoint_class_names_must_match_the_head(tmp_path, checkpoint):
    state = torch.load(checkpoint, weights_only=True)
    state['meta'] = {'dataset_meta': {'classes': ['a', 'b', 'c', 'd']}}
    path = tmp_path / 'four_names.pth'
    torch.save(state, path)
    with pytest.raises(ValueError, match=re.escape(f'the checkpoint {path} has 4')):
        init_detector(small_ssdlite_config(), str(path))


def test_mmdetection_2_checkpoints_give_their_class_names(tmp_path, checkpoint):
    state = torch.load(checkpoint, weights_only=True)
    state['meta'] = {'CLASSES': ['x', 'y', 'z']}
    path = tmp_path / 'mmdet2.pth'
    torch.save(state, path)
    assert init_detector(small_ssdlite_config(), str(path)).dataset_meta == {'classes': ('x', 'y', 'z')}


@pytest.mark.parametrize('bad, error', [
    ('missing.jpg', FileNotFoundError),
    (np.zeros((20, 20), dtype=np.uint8), ValueError),
    (np.zeros((20, 20, 3), dtype=np.float32), ValueError),
    (7, TypeError),
])
def test_bad_images_raise_clear_errors(model, bad, error):
    with pytest.raises(error, match='inference_detector'):
        inference_detector(model, bad)
