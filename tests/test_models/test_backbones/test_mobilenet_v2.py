import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from ssd_npu.models.backbones import MobileNetV2
from ssd_npu.models.backbones.mobilenet_v2 import make_divisible


def test_state_dict_layout_matches_mmdetection():
    backbone = MobileNetV2(out_indices=(4, 7))
    keys = backbone.state_dict().keys()
    # 312 tensors and this parameter count are those of mmdetection's SSDLite backbone.
    assert len(keys) == 312
    assert sum(p.numel() for p in backbone.parameters()) == 2223872
    for key in ('conv1.conv.weight', 'layer1.0.depthwise_conv.conv.weight', 'layer1.0.linear_conv.bn.bias',
                'layer2.0.expand_conv.bn.running_mean', 'layer7.0.linear_conv.conv.weight',
                'conv2.conv.weight'):
        assert key in keys
    assert 'layer1.0.expand_conv.conv.weight' not in keys, 'expand ratio 1 has no expand conv'


def test_ssdlite_outputs_strides_16_and_32():
    backbone = MobileNetV2(out_indices=(4, 7)).eval()
    with torch.no_grad():
        c4, c7 = backbone(torch.randn(1, 3, 64, 64))
    assert c4.shape == (1, 96, 4, 4)
    assert c7.shape == (1, 1280, 2, 2)


def test_widen_factor_rounds_channels_to_multiples_of_8():
    assert make_divisible(96 * 0.35, 8) == 32
    assert make_divisible(16 * 0.5, 8) == 8
    backbone = MobileNetV2(widen_factor=0.5, out_indices=(4, 7)).eval()
    with torch.no_grad():
        c4, c7 = backbone(torch.randn(1, 3, 32, 32))
    assert c4.shape[1] == 48 and c7.shape[1] == 1280


def test_frozen_stages_and_norm_eval_survive_train():
    backbone = MobileNetV2(frozen_stages=2, norm_eval=True).train()
    assert not any(p.requires_grad for p in backbone.conv1.parameters())
    assert not any(p.requires_grad for p in backbone.layer2.parameters())
    assert all(p.requires_grad for p in backbone.layer3.parameters())
    assert not backbone.layer2.training
    assert all(not m.training for m in backbone.modules() if isinstance(m, _BatchNorm))


def test_gradient_checkpointing_gives_same_outputs_and_gradients():
    torch.manual_seed(0)
    plain = MobileNetV2(widen_factor=0.25, out_indices=(2,)).eval()
    checkpointed = MobileNetV2(widen_factor=0.25, out_indices=(2,), with_cp=True).eval()
    checkpointed.load_state_dict(plain.state_dict())
    image = torch.randn(1, 3, 32, 32)
    grads = []
    for model in (plain, checkpointed):
        x = image.clone().requires_grad_()
        model(x)[0].sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize('kwargs', [dict(out_indices=(8,)), dict(frozen_stages=8),
                                    dict(pretrained='a.pth', init_cfg=dict(type='Kaiming'))])
def test_bad_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        MobileNetV2(**kwargs)
