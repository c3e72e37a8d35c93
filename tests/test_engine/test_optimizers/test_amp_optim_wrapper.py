import copy
import types

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper as MMEngineAmpOptimWrapper
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmcv_patches.checkpoint import safe_load
from ssd_npu.engine.optimizers import AmpOptimWrapper
from ssd_npu.engine.optimizers.amp_optim_wrapper import build_loss_scaler

SGD = dict(type='SGD', lr=0.1, momentum=0.9)


def _wrapper(model: nn.Module, **amp_cfg) -> AmpOptimWrapper:
    with DefaultScope.overwrite_default_scope('ssd_npu'):
        return build_optim_wrapper(model, dict(type='AmpOptimWrapper', optimizer=SGD, **amp_cfg))


def test_config_type_builds_ours_on_cpu_where_mmengines_refuses():
    wrapper = _wrapper(nn.Linear(2, 1))
    assert type(wrapper) is AmpOptimWrapper and isinstance(wrapper, MMEngineAmpOptimWrapper)
    assert wrapper.loss_scaler._device == 'cpu' and wrapper.cast_dtype is torch.bfloat16
    with pytest.raises(AssertionError, match='gpu, npu, mlu or musa'):
        MMEngineAmpOptimWrapper(optimizer=torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1))


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_forward_runs_in_the_autocast_dtype(dtype):
    model = nn.Linear(4, 2)
    wrapper = _wrapper(model, dtype=dtype)
    with wrapper.optim_context(model):
        out = model(torch.randn(3, 4))
    assert out.dtype == getattr(torch, dtype)
    wrapper.update_params(out.float().square().mean())
    assert torch.isfinite(model.weight).all()


def _step_with_gradient(wrapper: AmpOptimWrapper, model: nn.Linear, gradient: float) -> None:
    """One optimizer step whose (unscaled) gradient is ``gradient`` everywhere."""
    wrapper.zero_grad()
    wrapper.backward(sum(param.sum() for param in model.parameters()) * 0)
    for param in model.parameters():
        param.grad.fill_(gradient * wrapper.loss_scaler.get_scale())
    wrapper.step()


@pytest.mark.parametrize('first_gradient', [float('inf'), float('nan')])
def test_overflow_step_is_skipped_and_the_scale_lowered(first_gradient):
    hub = MessageHub.get_instance('amp_overflow_test')
    model = nn.Linear(3, 2)
    reference_model = copy.deepcopy(model)
    reference = torch.optim.SGD(reference_model.parameters(), lr=0.1, momentum=0.9, foreach=False)
    wrapper = _wrapper(model, dtype='float16')
    wrapper.message_hub = hub
    assert wrapper.optimizer.defaults['fused'] is True  # the fused SGD of the builder
    scale = wrapper.loss_scaler.get_scale()

    _step_with_gradient(wrapper, model, first_gradient)
    assert wrapper.loss_scaler.get_scale() == scale / 2
    assert hub.get_scalar('train/loss_scale').current() == scale / 2
    assert torch.equal(model.weight, reference_model.weight)  # nothing written

    for gradient in (1.0, 0.5):  # the following clean steps equal plain SGD's
        _step_with_gradient(wrapper, model, gradient)
        for param in reference_model.parameters():
            param.grad = torch.full_like(param, gradient)
        reference.step()
    assert torch.isfinite(model.weight).all()
    torch.testing.assert_close(model.weight, reference_model.weight)


def test_gradients_are_unscaled_before_clipping():
    model = nn.Linear(3, 2)
    before = [param.detach().clone() for param in model.parameters()]
    wrapper = _wrapper(model, dtype='float16', clip_grad=dict(max_norm=1.0))
    _step_with_gradient(wrapper, model, 100.0)
    # first SGD step: the update is lr * clipped gradient, whose norm is max_norm
    step = torch.cat([(after - start).flatten() for after, start in zip(model.parameters(), before)])
    torch.testing.assert_close(step.norm(), torch.tensor(0.1))


def test_torch_fused_sgd_alone_mishandles_a_skipped_first_step():
    # Why AmpOptimWrapper keeps fused SGD off GradScaler's fused path: the skipped step still
    # creates an uninitialised momentum buffer, which the next step reads into the weights.
    param = nn.Parameter(torch.zeros(4))
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9, fused=True)
    scaler = torch.amp.GradScaler('cpu')
    scaler.scale(torch.ones(()))
    param.grad = torch.full((4,), float('inf'))
    scaler.step(optimizer)
    assert 'momentum_buffer' in optimizer.state[param]  # plain SGD: no state after a skipped step


def test_loss_scaler_state_resumes(tmp_path):
    model = nn.Linear(3, 2)
    wrapper = _wrapper(model, dtype='float16')
    _step_with_gradient(wrapper, model, float('inf'))
    torch.save(wrapper.state_dict(), tmp_path / 'optim.pth')

    resumed = _wrapper(nn.Linear(3, 2), dtype='float16')
    resumed.load_state_dict(safe_load(tmp_path / 'optim.pth'))
    assert resumed.loss_scaler.get_scale() == wrapper.loss_scaler.get_scale() == 2.0 ** 15


def test_training_log_shows_the_loss_scale(make_runner, toy_dataset, tmp_path):
    amp = dict(type='AmpOptimWrapper', dtype='float16', optimizer=SGD)
    runner = make_runner(toy_dataset(length=4), [], optim_wrapper=amp)
    runner.train()
    history = runner.message_hub.get_scalar('train/loss_scale')
    assert history.current() == runner.optim_wrapper.loss_scaler.get_scale()
    log = next(tmp_path.glob('work/*/*.log')).read_text()
    # LogProcessor prints the mean over its window (here both iterations)
    assert f'loss_scale: {history.mean():.4f}' in log


class RecordingScaler(torch.amp.GradScaler):
    """Stands in for torch_npu's ``torch.npu.amp.GradScaler`` (no device argument) on this host."""

    def __init__(self, **kwargs):
        super().__init__('cpu', **kwargs)
        self.arguments = kwargs


def test_npu_gets_torch_npus_scaler_and_other_devices_torchs(monkeypatch):
    npu = types.SimpleNamespace(amp=types.SimpleNamespace(GradScaler=RecordingScaler))
    monkeypatch.setattr(torch, 'npu', npu, raising=False)
    npu_scaler = build_loss_scaler('npu', init_scale=1024.0)
    assert type(npu_scaler) is RecordingScaler and npu_scaler.arguments == dict(init_scale=1024.0)
    cpu_scaler = build_loss_scaler('cpu')
    assert type(cpu_scaler) is torch.amp.GradScaler and cpu_scaler._device == 'cpu'


def test_fsdp_scaler_is_read_when_built_so_torch_npus_replacement_is_used(monkeypatch):
    from torch.distributed.fsdp import sharded_grad_scaler

    built = []
    monkeypatch.setattr(sharded_grad_scaler, 'ShardedGradScaler',
                        lambda device, **kwargs: built.append(device) or kwargs)
    assert build_loss_scaler('npu', use_fsdp=True, growth_interval=10) == dict(growth_interval=10)
    assert built == ['npu']


def test_a_910a_turns_every_optim_wrapper_into_ours(monkeypatch):
    # mmengine's build_optim_wrapper on a chip without full-precision support (SoC < 220)
    import mmengine.optim.optimizer.builder as builder

    monkeypatch.setattr(builder, 'is_npu_available', lambda: True)
    monkeypatch.setattr(builder, 'is_npu_support_full_precision', lambda: False)
    with DefaultScope.overwrite_default_scope('ssd_npu'):
        wrapper = build_optim_wrapper(nn.Linear(2, 1), dict(type='OptimWrapper', optimizer=SGD))
    assert type(wrapper) is AmpOptimWrapper


def test_a_scaler_state_saved_off_npu_resumes_on_npu(monkeypatch):
    # torch_npu's GradScaler.load_state_dict reads state['dynamic'], which torch's scaler never writes
    saved = _wrapper(nn.Linear(3, 2), dtype='float16').state_dict()
    assert 'dynamic' not in saved['loss_scaler']
    saved_scale = saved['loss_scaler']['scale']
    loaded = {}

    class NpuScaler(RecordingScaler):
        def load_state_dict(self, state):
            loaded.update(state)
            super().load_state_dict({k: v for k, v in state.items() if k != 'dynamic'})

    monkeypatch.setattr(torch, 'npu', types.SimpleNamespace(amp=types.SimpleNamespace(GradScaler=NpuScaler)),
                        raising=False)
    resumed = _wrapper(nn.Linear(3, 2), dtype='float16')
    resumed.device_type, resumed.loss_scaler = 'npu', build_loss_scaler('npu')
    resumed.load_state_dict(saved)
    assert loaded['dynamic'] is True and loaded['scale'] == saved_scale
