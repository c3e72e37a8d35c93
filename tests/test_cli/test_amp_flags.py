import pytest

from ssd_npu.cli import amp_flags as amp
from ssd_npu.cli import amp_optim_wrapper

SGD = dict(type='SGD', lr=0.1, momentum=0.9)


@pytest.mark.parametrize('opt_level, use_amp, device, expected', [
    (None, False, 'cuda', dict(type='OptimWrapper', optimizer=SGD)),
    ('O0', False, 'cuda', dict(type='OptimWrapper', optimizer=SGD)),
    ('O1', False, 'npu', dict(type='AmpOptimWrapper', optimizer=SGD, loss_scale='dynamic', dtype='float16')),
    (None, True, 'cuda', dict(type='AmpOptimWrapper', optimizer=SGD, loss_scale='dynamic', dtype='float16')),
    ('O1', True, 'cpu', dict(type='AmpOptimWrapper', optimizer=SGD, loss_scale='dynamic', dtype='bfloat16')),
])
def test_command_line_flags_map_onto_the_optim_wrapper(opt_level, use_amp, device, expected, monkeypatch):
    monkeypatch.setattr(amp, 'cpu_has_native_bfloat16', lambda: True)
    cfg = dict(type='OptimWrapper', optimizer=SGD)
    assert amp_optim_wrapper(cfg, opt_level, use_amp, device) == expected
    assert cfg == dict(type='OptimWrapper', optimizer=SGD)  # the config is not modified


def test_o0_turns_an_amp_config_into_fp32():
    cfg = dict(type='AmpOptimWrapper', optimizer=SGD, loss_scale=512.0, dtype='float16')
    assert amp_optim_wrapper(cfg, 'O0', False, 'npu') == dict(type='OptimWrapper', optimizer=SGD)


def test_config_dtype_and_static_scale_are_kept():
    cfg = dict(optimizer=SGD, dtype='float16', loss_scale=512.0)
    assert amp_optim_wrapper(cfg, None, True, 'cpu') == dict(
        type='AmpOptimWrapper', optimizer=SGD, dtype='float16', loss_scale=512.0)


@pytest.mark.parametrize('opt_level, use_amp', [(None, True), ('O1', False), ('O2', False)])
def test_a_cpu_without_native_bfloat16_trains_in_fp32_with_one_log_line(opt_level, use_amp, monkeypatch):
    lines = []
    monkeypatch.setattr(amp, 'print_log', lambda message, **kwargs: lines.append(message))
    monkeypatch.setattr(amp, 'cpu_has_native_bfloat16', lambda: False)
    cfg = dict(type='OptimWrapper', optimizer=SGD, loss_scale=512.0)
    assert amp_optim_wrapper(cfg, opt_level, use_amp, 'cpu') == dict(type='OptimWrapper', optimizer=SGD)
    assert len(lines) == 1 and 'no native bfloat16' in lines[0] and 'float32' in lines[0]
    # an explicit dtype in the config still autocasts
    cfg = dict(optimizer=SGD, dtype='bfloat16')
    assert amp_optim_wrapper(cfg, opt_level, use_amp, 'cpu')['type'] == 'AmpOptimWrapper'
    # the accelerators are not affected
    assert amp_optim_wrapper(dict(optimizer=SGD), opt_level, use_amp, 'npu')['dtype'] == 'float16'


def test_native_bfloat16_is_read_from_the_cpu_capabilities(monkeypatch):
    avx2_only = {'avx2': True, 'avx512_f': False, 'avx512_bf16': False, 'amx_bf16': False}
    monkeypatch.setattr(amp.torch.cpu, 'get_capabilities', lambda: avx2_only)
    assert not amp.cpu_has_native_bfloat16()
    monkeypatch.setattr(amp.torch.cpu, 'get_capabilities', lambda: {**avx2_only, 'avx512_bf16': True})
    assert amp.cpu_has_native_bfloat16()
    monkeypatch.setattr(amp.torch.cpu, 'get_capabilities', lambda: {'neon': True, 'bf16': True})
    assert amp.cpu_has_native_bfloat16()


def test_o2_means_o1_with_one_log_line(monkeypatch):
    lines = []
    monkeypatch.setattr(amp, 'print_log', lambda message, **kwargs: lines.append(message))
    cfg = dict(optimizer=SGD)
    assert amp_optim_wrapper(cfg, 'O2', False, 'cuda') == amp_optim_wrapper(cfg, 'O1', False, 'cuda')
    assert len(lines) == 1 and 'O2' in lines[0]


@pytest.mark.parametrize('opt_level, use_amp, device', [('O3', False, 'cuda'), ('O0', True, 'cuda'),
                                                        ('O1', False, 'mps')])
def test_bad_flags_are_refused(opt_level, use_amp, device):
    with pytest.raises(ValueError):
        amp_optim_wrapper(dict(optimizer=SGD), opt_level, use_amp, device)
