import pytest
import torch

from ssd_npu.models.backbones import SSDVGG

# Parameter-tensor names of mmdetection's SSDVGG (depth 16): the VGG convs keep their index in
# the features Sequential, pool5 (30) is the appended 3x3/s1 pool, 31 is fc6 and 33 fc7.
MMDET_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28, 31, 33)


def test_state_dict_keys_and_size_match_mmdetection():
    backbone = SSDVGG(depth=16)
    expected = {f'features.{i}.{p}' for i in MMDET_CONV_INDICES for p in ('weight', 'bias')}
    assert set(backbone.state_dict()) == expected
    # mmdetection's SSD300 backbone has exactly this many parameters.
    assert sum(p.numel() for p in backbone.parameters()) == 20483904
    assert backbone.features[31].dilation == (6, 6) and backbone.features[31].out_channels == 1024
    assert backbone.features[30].stride == 1 and backbone.features[30].kernel_size == 3


def test_outputs_after_conv4_3_and_fc7_with_ceil_mode_pools():
    backbone = SSDVGG(depth=16).eval()
    with torch.no_grad():
        conv4_3, fc7 = backbone(torch.randn(1, 3, 75, 75))
    # 75 -> 38 -> 19 -> 10 (ceil mode; floor would give 9) -> 5 after pool4; pool5 keeps 5.
    assert conv4_3.shape == (1, 512, 10, 10)
    assert fc7.shape == (1, 1024, 5, 5)
    assert (conv4_3 >= 0).all() and (fc7 >= 0).all(), 'outputs are taken after the ReLUs'


def test_single_output_index_returns_a_tensor():
    out = SSDVGG(depth=11, out_feature_indices=(14,)).eval()(torch.randn(1, 3, 32, 32))
    assert isinstance(out, torch.Tensor) and out.shape[1] == 512


def test_init_cfg_defaults_and_deprecated_pretrained():
    assert SSDVGG(depth=16).init_cfg[0] == dict(type='Kaiming', layer='Conv2d')
    with pytest.warns(DeprecationWarning):
        backbone = SSDVGG(depth=16, pretrained='vgg.pth')
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint='vgg.pth')


@pytest.mark.parametrize('kwargs, error', [
    (dict(depth=17), KeyError),
    (dict(depth=16, pretrained='a.pth', init_cfg=dict(type='Kaiming')), ValueError),
    (dict(depth=16, out_feature_indices=(22, 40)), ValueError),
])
def test_bad_arguments_raise(kwargs, error):
    with pytest.raises(error):
        SSDVGG(**kwargs)
