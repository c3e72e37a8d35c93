import copy

import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from ssd_npu.engine.optimizers import fused_sgd_builder as builder


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))


def _build(model: nn.Module, optimizer_type: str, **paramwise) -> torch.optim.Optimizer:
    cfg = dict(optimizer=dict(type=optimizer_type, lr=0.1, momentum=0.9, weight_decay=5e-4), **paramwise)
    with DefaultScope.overwrite_default_scope('ssd_npu'):
        return build_optim_wrapper(model, cfg).optimizer


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(builder, 'print_log', lambda message, **kwargs: lines.append(message))
    return lines


def test_sgd_config_builds_the_fused_torch_sgd_on_cpu(logged):
    optimizer = _build(_model(), 'SGD')
    assert type(optimizer) is torch.optim.SGD
    assert optimizer.defaults['fused'] is True
    assert logged == []


def test_npu_fused_sgd_config_falls_back_with_one_log_line(logged):
    optimizer = _build(_model(), 'NpuFusedSGD')
    assert type(optimizer) is torch.optim.SGD and optimizer.defaults['fused'] is True
    assert len(logged) == 1 and 'NpuFusedSGD' in logged[0] and 'cpu' in logged[0]


@pytest.mark.parametrize('optimizer_type', ['SGD', 'NpuFusedSGD'])
def test_steps_equal_plain_torch_sgd(optimizer_type, logged):
    model = _model()
    reference_model = copy.deepcopy(model)
    # paramwise_cfg: no weight decay on norms and biases, as SSD configs do -> several param groups
    optimizer = _build(model, optimizer_type, paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
    reference = torch.optim.SGD([dict(group, params=[reference_model.get_parameter(name) for name in names])
                                 for group, names in _groups_by_name(model, optimizer)], foreach=False)
    inputs = torch.randn(5, 3, 8, 8)
    for _ in range(3):
        for net, opt in ((model, optimizer), (reference_model, reference)):
            opt.zero_grad()
            net(inputs).square().sum().backward()
            opt.step()
    for param, expected in zip(model.parameters(), reference_model.parameters()):
        assert torch.equal(param, expected)


def _groups_by_name(model: nn.Module, optimizer: torch.optim.Optimizer):
    """Each param group's hyper-parameters with the names of its parameters."""
    names = {id(param): name for name, param in model.named_parameters()}
    for group in optimizer.param_groups:
        hyper = {key: value for key, value in group.items()
                 if key in ('lr', 'momentum', 'dampening', 'weight_decay', 'nesterov')}
        yield hyper, [names[id(param)] for param in group['params']]
