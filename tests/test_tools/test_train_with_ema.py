"""Weight EMA as mmdetection configures it (mmengine's EMAHook with ExpMomentumEMA), through the tools:
validation and tools/test.py use the averaged weights, and kill -9 + --resume, --compile, AMP and two
processes keep it exact."""
import re
import socket

import pytest
import torch

from mmcv_patches.checkpoint import safe_load

# gamma=4: the momentum decays within the tiny run's 8 iterations, so the average differs from the weights.
EMA = dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.01, gamma=4, priority=49)
COMMON = ['--deterministic', '--seed', '7']


def _train(run_tool, config, work_dir, cwd, *flags, env=None):
    return run_tool(['python', 'tools/train.py', str(config), '--work-dir', str(work_dir)] + COMMON
                    + list(flags), cwd, env=env)


def _assert_same(actual: dict, expected: dict, tolerance: float = 1e-5) -> None:
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=tolerance, atol=tolerance, msg=name)


def _last_val_map(log: str) -> float:
    return float(re.findall(r'coco/bbox_mAP: (-?[\d.]+)', log)[-1])


@pytest.mark.slow
def test_ema_is_evaluated_saved_and_resumed_exactly(tmp_path, make_tiny_config, run_tool, with_hooks):
    config = make_tiny_config(with_hooks(EMA))
    uninterrupted = _train(run_tool, config, tmp_path / 'full', tmp_path)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    full = safe_load(str(tmp_path / 'full' / 'epoch_2.pth'))
    assert full['ema_state_dict']['steps'].item() == 8
    name = 'bbox_head.cls_convs.0.0.conv.weight'
    assert not torch.equal(full['state_dict'][name], full['ema_state_dict']['module.' + name])

    # kill -9 in epoch 2, then --resume: the trained weights and their average both end as uninterrupted.
    work_dir = tmp_path / 'resumed'
    killed = _train(run_tool, make_tiny_config(with_hooks(EMA, dict(type='KillAtIterHook', epoch=2,
                                                                       iteration=3))), work_dir, tmp_path)
    assert killed.returncode == -9
    resumed = _train(run_tool, config, work_dir, tmp_path, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = safe_load(str(work_dir / 'epoch_2.pth'))
    _assert_same(again['state_dict'], full['state_dict'])
    _assert_same(again['ema_state_dict'], full['ema_state_dict'])

    # The checkpoint's state_dict is the average: tools/test.py reports the mAP validation saw,
    # with the EMA hook in the config or without it.
    validated = _last_val_map(uninterrupted.stdout + uninterrupted.stderr)
    for test_config in (config, make_tiny_config()):
        checkpoint = str(tmp_path / 'full' / 'epoch_2.pth')
        tested = run_tool(['python', 'tools/test.py', str(test_config), checkpoint,
                           '--work-dir', str(tmp_path / 'test')], tmp_path)
        assert tested.returncode == 0, tested.stderr[-3000:]
        assert _last_val_map(tested.stdout + tested.stderr) == pytest.approx(validated, abs=1e-4)


@pytest.mark.slow
def test_ema_trains_compiled_and_with_amp(tmp_path, make_tiny_config, run_tool, with_hooks):
    config = make_tiny_config(with_hooks(EMA))
    flags = ['--compile', '--amp', '--cfg-options', 'compile.backend=aot_eager',
             'optim_wrapper.dtype=bfloat16', 'model.train_cfg.gt_pad_size=16', 'train_cfg.max_epochs=1',
             'train_cfg.val_interval=1']
    trained = _train(run_tool, config, tmp_path / 'w', tmp_path, *flags, env={'TORCH_LOGS': 'graph_breaks'})
    log = trained.stdout + trained.stderr
    assert trained.returncode == 0, log[-3000:]
    assert 'Graph break' not in log
    checkpoint = safe_load(str(tmp_path / 'w' / 'epoch_1.pth'))
    assert checkpoint['ema_state_dict']['steps'].item() == 4
    assert all(torch.isfinite(value).all() for value in checkpoint['state_dict'].values())
    assert "type='AmpOptimWrapper'" in log


@pytest.mark.slow
def test_ema_with_two_processes_equals_one_process(tmp_path, make_tiny_config, run_tool, with_hooks):
    # No BatchNorm (per-rank statistics without SyncBN): the runs differ only in how the batch is split.
    no_bn = '''
model = dict(backbone=dict(norm_cfg=None), neck=dict(norm_cfg=None), bbox_head=dict(norm_cfg=None))
train_cfg = dict(max_epochs=1, val_interval=1)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.01, momentum=0.9))
'''
    config = make_tiny_config(no_bn + with_hooks(EMA))
    one = _train(run_tool, config, tmp_path / 'one', tmp_path,
                 '--cfg-options', 'train_dataloader.batch_size=4')
    assert one.returncode == 0, one.stderr[-3000:]
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    env = dict(NPROC='2', WORK_DIR=str(tmp_path / 'two'), MASTER_PORT=str(port))
    two = run_tool(['bash', 'run_8p.sh', str(config)] + COMMON
                   + ['--cfg-options', 'train_dataloader.batch_size=2'], tmp_path, env=env)
    assert two.returncode == 0, (two.stdout + two.stderr)[-3000:]
    expected = safe_load(str(tmp_path / 'one' / 'epoch_1.pth'))
    actual = safe_load(str(tmp_path / 'two' / 'epoch_1.pth'))
    _assert_same(actual['state_dict'], expected['state_dict'], tolerance=1e-4)
    _assert_same(actual['ema_state_dict'], expected['ema_state_dict'], tolerance=1e-4)
