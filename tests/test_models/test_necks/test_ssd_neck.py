import pytest
import torch

from ssd_npu.models.necks import L2Norm, SSDNeck


def ssd300_neck(**kwargs) -> SSDNeck:
    return SSDNeck(in_channels=(512, 1024), out_channels=(512, 1024, 512, 256, 256, 256),
                   level_strides=(2, 2, 1, 1), level_paddings=(1, 1, 0, 0), **kwargs)


def test_ssd300_levels_and_mmdetection_keys():
    neck = ssd300_neck().eval()
    keys = set(neck.state_dict())
    assert 'l2_norm.weight' in keys
    assert {f'extra_layers.{i}.{j}.conv.weight' for i in range(4) for j in range(2)} <= keys
    assert len(keys) == 17
    assert sum(p.numel() for p in neck.parameters()) == 2460032  # mmdetection's SSD300 neck
    with torch.no_grad():
        outs = neck((torch.rand(1, 512, 38, 38), torch.rand(1, 1024, 19, 19)))
    assert [tuple(o.shape[1:]) for o in outs] == [(512, 38, 38), (1024, 19, 19), (512, 10, 10),
                                                   (256, 5, 5), (256, 3, 3), (256, 1, 1)]


def test_l2_norm_scale_survives_init_weights():
    neck = ssd300_neck()
    neck.init_weights()
    assert torch.equal(neck.l2_norm.weight.detach(), torch.full((512,), 20.))


def test_no_l2_norm_and_depthwise_convs_for_ssdlite():
    neck = SSDNeck(in_channels=(8, 16), out_channels=(8, 16, 32, 16), level_strides=(2, 2),
                   level_paddings=(1, 1), l2_norm_scale=None, use_depthwise=True,
                   norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU6'))
    keys = set(neck.state_dict())
    assert not any(k.startswith('l2_norm') for k in keys)
    assert 'extra_layers.0.1.depthwise_conv.conv.weight' in keys
    assert 'extra_layers.1.1.pointwise_conv.bn.running_var' in keys
    assert neck.extra_layers[0][1].depthwise_conv.conv.groups == 16
    inputs = (torch.rand(2, 8, 8, 8), torch.rand(2, 16, 4, 4))
    outs = neck(inputs)
    assert outs[0] is inputs[0], 'without L2Norm the first level passes through'
    assert [tuple(o.shape[1:]) for o in outs[2:]] == [(32, 2, 2), (16, 1, 1)]


def test_last_kernel_size_of_ssd512():
    neck = SSDNeck(in_channels=(4,), out_channels=(4, 8, 8), level_strides=(2, 1), level_paddings=(1, 1),
                   last_kernel_size=4, l2_norm_scale=None)
    assert neck.extra_layers[1][1].conv.kernel_size == (4, 4)
    assert neck.extra_layers[0][1].conv.kernel_size == (3, 3)


def test_l2_norm_rescales_each_position_to_the_learned_scale():
    norm = L2Norm(4, scale=20.)
    x = torch.rand(2, 4, 3, 3) + 0.1
    out = norm(x)
    torch.testing.assert_close(out.norm(dim=1), torch.full((2, 3, 3), 20.))


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_l2_norm_computes_in_fp32_for_half_inputs(dtype):
    norm = L2Norm(512, scale=20.)
    # The sum of squares (512 * 300**2 = 4.6e7) overflows float16's range (65504).
    x = torch.full((1, 512, 2, 2), 300.)
    out = norm(x.to(dtype))
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), norm(x), rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize('kwargs', [
    dict(in_channels=(4,), out_channels=(4,), level_strides=(), level_paddings=()),
    dict(in_channels=(4,), out_channels=(8, 8), level_strides=(2,), level_paddings=(1,)),
    dict(in_channels=(4,), out_channels=(4, 8), level_strides=(2, 2), level_paddings=(1,)),
])
def test_inconsistent_channels_or_levels_raise(kwargs):
    with pytest.raises(ValueError, match='SSDNeck'):
        SSDNeck(**kwargs)
