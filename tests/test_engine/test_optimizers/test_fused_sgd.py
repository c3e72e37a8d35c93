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


class CombinedBufferSGD(torch.optim.SGD):
    """What torch_npu's NpuFusedSGD does with its parameters (npu_fused_optim_base.py): at the first
    ``step``/``zero_grad`` it combines the parameters that have a gradient then, and updates only
    those ever after; ``zero_grad(set_to_none=True)`` raises."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, foreach=False)
        self.combined = None

    def _combine(self):
        if self.combined is None:
            self.combined = {id(p) for group in self.param_groups for p in group['params']
                             if p.grad is not None}

    def step(self, closure=None):
        self._combine()
        left_out = [(p, p.grad) for group in self.param_groups for p in group['params']
                    if id(p) not in self.combined]
        for param, _ in left_out:
            param.grad = None
        super().step(closure)
        for param, grad in left_out:
            param.grad = grad

    def zero_grad(self, set_to_none=False):
        if set_to_none:
            raise ValueError('set_to_none is not supported in fused optimizers')
        self._combine()
        super().zero_grad(set_to_none=False)


class LateBranch(nn.Module):
    """Two linear layers; the second one takes part from the second iteration on (like a head
    branch that has no positives in the first batch)."""

    def __init__(self):
        super().__init__()
        self.first, self.late = nn.Linear(3, 3), nn.Linear(3, 3)
        self.frozen = nn.Linear(3, 3).requires_grad_(False)

    def forward(self, x, with_late):
        x = self.first(x) + self.frozen(x)
        return self.late(x) if with_late else x


def test_npu_fused_sgd_updates_every_trainable_param_and_never_a_frozen_one(monkeypatch, logged):
    monkeypatch.setattr(builder, '_npu_fused_sgd_class', lambda: CombinedBufferSGD)
    monkeypatch.setattr(builder, 'params_device_type', lambda tensors: 'npu')
    model = LateBranch()
    late_before, frozen_before = model.late.weight.detach().clone(), model.frozen.weight.detach().clone()
    with DefaultScope.overwrite_default_scope('ssd_npu'):
        optim_wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='NpuFusedSGD', lr=0.1)))
    assert type(optim_wrapper.optimizer) is CombinedBufferSGD and logged == []
    inputs = torch.randn(4, 3)
    for iteration in range(3):   # mmengine's train step: update_params -> step, then zero_grad()
        optim_wrapper.update_params(model(inputs, with_late=iteration > 0).square().sum())
    assert not torch.equal(model.late.weight, late_before)
    assert torch.equal(model.frozen.weight, frozen_before) and model.frozen.weight.grad is None


def test_combined_buffer_sgd_without_the_zero_grads_leaves_a_late_param_behind():
    """The failure the builder prevents, shown on the stand-in itself."""
    model = LateBranch()
    late_before = model.late.weight.detach().clone()
    optimizer = CombinedBufferSGD(model.parameters(), lr=0.1)
    inputs = torch.randn(4, 3)
    for iteration in range(3):
        model(inputs, with_late=iteration > 0).square().sum().backward()
        optimizer.step()
        optimizer.zero_grad()
    assert torch.equal(model.late.weight, late_before)
    with pytest.raises(ValueError, match='set_to_none'):
        optimizer.zero_grad(set_to_none=True)
