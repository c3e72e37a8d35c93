"""tools/train.py end to end on the tiny synthetic config: checkpoints, kill-and-resume, AMP, errors."""
import sys

import pytest
import torch

from mmcv_patches.checkpoint import safe_load

KILL_IN_EPOCH_2 = '''
custom_imports = dict(imports=['kill_at_iter_hook'], allow_failed_imports=False)
custom_hooks = [
    dict(type='NumClassCheckHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='ThroughputHook'),
    dict(type='EpochSeedHook'),
    dict(type='BadSampleReportHook'),
    dict(type='KillAtIterHook', epoch=2, iteration=3),
]
'''


def _weights(path) -> dict:
    return safe_load(str(path))['state_dict']


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_run(tmp_path, make_tiny_config, run_tool):
    train = ['python', 'tools/train.py']
    common = ['--deterministic', '--seed', '7']
    config = make_tiny_config()
    uninterrupted = run_tool(train + [str(config), '--work-dir', str(tmp_path / 'a')] + common, tmp_path)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    assert (tmp_path / 'a' / 'epoch_1.pth').exists() and (tmp_path / 'a' / 'epoch_2.pth').exists()

    killed_config = make_tiny_config(KILL_IN_EPOCH_2)
    work_dir = tmp_path / 'b'
    killed = run_tool(train + [str(killed_config), '--work-dir', str(work_dir)] + common, tmp_path)
    assert killed.returncode == -9, 'the run was killed by SIGKILL in epoch 2'
    assert not (work_dir / 'epoch_2.pth').exists()

    resumed = run_tool(train + [str(config), '--work-dir', str(work_dir), '--resume'] + common, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: 1' in (resumed.stdout + resumed.stderr)
    expected, actual = _weights(tmp_path / 'a' / 'epoch_2.pth'), _weights(work_dir / 'epoch_2.pth')
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.slow
@pytest.mark.parametrize('flags, dtype', [
    (['--amp', '--cfg-options', 'optim_wrapper.dtype=bfloat16'], 'bfloat16'),  # CPUs with native bf16
    (['--opt-level', 'O1', '--cfg-options', 'optim_wrapper.dtype=float16'], 'float16'),
])
def test_amp_training_logs_the_loss_scale_and_keeps_weights_finite(tmp_path, make_tiny_config, run_tool,
                                                                   flags, dtype):
    config = make_tiny_config('train_cfg = dict(max_epochs=1, val_interval=1)\n')
    command = ['python', 'tools/train.py', str(config), '--work-dir', str(tmp_path)] + flags
    result = run_tool(command, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "type='AmpOptimWrapper'" in log and f"dtype='{dtype}'" in log
    assert 'loss_scale:' in log
    weights = _weights(tmp_path / 'epoch_1.pth')
    assert all(torch.isfinite(value).all() for value in weights.values() if value.is_floating_point())


def test_unknown_type_is_a_short_error_with_suggestions(tmp_path, make_tiny_config, run_tool):
    config = make_tiny_config("model = dict(bbox_head=dict(type='SSDHaed'))\n")
    result = run_tool(['python', 'tools/train.py', str(config), '--work-dir', str(tmp_path)], tmp_path)
    assert result.returncode == 1
    assert 'Unknown model type "SSDHaed"' in result.stderr and 'Did you mean: SSDHead' in result.stderr
    assert 'Traceback' not in result.stderr


def test_missing_config_file_is_a_short_error(tmp_path, run_tool):
    result = run_tool(['python', 'tools/train.py', str(tmp_path / 'nope.py')], tmp_path)
    assert result.returncode == 1
    assert 'Config file not found' in result.stderr and 'Traceback' not in result.stderr


@pytest.mark.slow
def test_run_1p_takes_the_data_path_in_any_position_and_ends_with_the_summary(tmp_path, make_tiny_config,
                                                                             run_tool):
    config = make_tiny_config('train_cfg = dict(max_epochs=1, val_interval=1)\n')
    data = tmp_path / 'moved_data'
    env = dict(WORK_DIR=str(tmp_path / 'work'), PYTHON=sys.executable, SSD_NPU_DEVICE='cpu')
    result = run_tool(['bash', 'run_1p.sh', f'--data_path={data}', str(config)], tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    # the synthetic set was generated, trained on and evaluated in the folder given
    assert (data / 'annotations' / 'instances_val.json').exists()
    assert (tmp_path / 'work' / 'epoch_1.pth').exists()
    # the old port's summary lines end the log, where the Ascend ModelZoo's tooling reads them
    log = next((tmp_path / 'work').glob('run_1p_*.log')).read_text().splitlines()
    performance, duration, accuracy = log[-3:]
    assert performance.startswith('Final Performance images/sec : ') and float(performance.split(': ')[1]) > 0
    assert duration.startswith('E2E Training Duration sec : ') and int(duration.split(': ')[1]) > 0
    assert accuracy.startswith('Final Train Accuracy : ') and 0 <= float(accuracy.split(': ')[1]) <= 1


def test_run_scripts_default_to_ssd300_on_coco(tmp_path, run_tool):
    script = 'source tools/launch_env.sh && parse_run_args "$@" && echo "$CONFIG|${TRAIN_ARGS[*]}"'
    result = run_tool(['bash', '-c', script, 'run', '--amp', '--data_path', 'data/coco2017'], tmp_path,
                      env=dict(PYTHON=sys.executable, SSD_NPU_DEVICE='cpu'))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == 'configs/ssd300_coco.py|--amp --data-root data/coco2017'


def test_legacy_and_replaced_flags_answer_in_one_line(tmp_path, run_tool):
    result = run_tool(['python', 'tools/train.py', 'configs/synthetic_demo.py', '--gpus', '2'], tmp_path)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert result.stderr.startswith('ERROR: --gpus was removed in mmdetection 3.x')


RAISE_HOOK = '''
from mmengine.hooks import Hook

from ssd_npu.registry import HOOKS


@HOOKS.register_module()
class RaiseAtIterHook(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == 2:
            raise RuntimeError('simulated device failure')
'''


@pytest.mark.slow
def test_a_failure_after_the_start_keeps_its_traceback_in_the_log(tmp_path, make_tiny_config, run_tool):
    (tmp_path / 'raise_at_iter_hook.py').write_text(RAISE_HOOK)
    config = make_tiny_config("custom_imports = dict(imports=['raise_at_iter_hook'])\n"
                              "custom_hooks = [dict(type='RaiseAtIterHook')]\n")
    work_dir = tmp_path / 'work'
    result = run_tool(['python', 'tools/train.py', str(config), '--work-dir', str(work_dir)], tmp_path)
    assert result.returncode == 1
    log = next((tmp_path / 'work').glob('*/*.log')).read_text()
    for where in (log, result.stdout + result.stderr):
        assert 'Stopped by an error at epoch 0, iteration 2' in where
        assert 'Traceback (most recent call last)' in where
        assert 'RuntimeError: simulated device failure' in where
