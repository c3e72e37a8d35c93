import pytest
import torch
import torch.nn as nn

from ssd_npu.models.backbones import SSDVGG
from ssd_npu.models.detectors import check_num_classes, min_input_size
from ssd_npu.models.necks import SSDNeck


class _Detector(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.bbox_head = nn.Module()
        self.bbox_head.num_classes = num_classes


def test_matching_classes_pass_and_wrapped_models_are_unwrapped():
    check_num_classes(_Detector(3), ('circle', 'square', 'triangle'))
    wrapper = nn.Module()
    wrapper.module = _Detector(2)
    with pytest.raises(ValueError, match='predicts 2 classes'):
        check_num_classes(wrapper, ('circle', 'square', 'triangle'))


def test_mismatch_message_names_the_source_and_the_fix():
    with pytest.raises(ValueError, match=r"80 classes .* data/ann.json has 3: \('a', 'b', 'c'\)\. "
                                         r"Set model.bbox_head.num_classes=3"):
        check_num_classes(_Detector(80), ['a', 'b', 'c'], source='data/ann.json')


def test_a_single_string_is_not_a_class_list():
    with pytest.raises(TypeError, match='sequence of names'):
        check_num_classes(_Detector(3), 'cat')


def test_min_input_size_of_ssd300_is_exact_and_leaves_the_model_untouched():
    extractor = nn.Sequential(
        SSDVGG(depth=16),
        SSDNeck(in_channels=(512, 1024), out_channels=(512, 1024, 512, 256, 256, 256),
                level_strides=(2, 2, 1, 1), level_paddings=(1, 1, 0, 0))).eval()
    before = {k: v.clone() for k, v in extractor.state_dict().items()}
    assert min_input_size(extractor) == 257
    after = extractor.state_dict()
    assert all(torch.equal(before[k], v) and v.device.type == 'cpu' for k, v in after.items())
    with torch.no_grad():
        assert extractor(torch.zeros(1, 3, 257, 257))[-1].shape[-2:] == (1, 1)
        with pytest.raises(RuntimeError):
            extractor(torch.zeros(1, 3, 256, 256))


def test_batch_norm_in_training_mode_does_not_fool_the_search():
    # With batch norm in training mode a 1x1 map from a batch of one raises ValueError; the search
    # must still find the size where the map exists.
    extractor = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.BatchNorm2d(4)).train()
    assert min_input_size(extractor) == 3
    before = extractor[1].running_mean.clone()
    min_input_size(extractor)
    assert torch.equal(extractor[1].running_mean, before)
