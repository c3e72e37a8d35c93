"""Interrupted runs (kill -9, SIGTERM preemption, iteration checkpoints) resume to the weights of an
uninterrupted run, with the shipped dataloader settings (persistent workers, random augmentation)."""
import pytest
import torch

from mmcv_patches.checkpoint import safe_load

# The shipped configs' dataloader: persistent worker processes (the tiny config uses none).
PERSISTENT_WORKERS = '''
train_dataloader['num_workers'] = 2
train_dataloader['persistent_workers'] = True
'''
COMMON = ['--deterministic', '--seed', '7']


def _weights(path) -> dict:
    return safe_load(str(path))['state_dict']


def assert_same_weights(actual_path, expected_path) -> None:
    expected, actual = _weights(expected_path), _weights(actual_path)
    assert expected.keys() == actual.keys()
    for name in expected:  # BatchNorm statistics included
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.fixture(scope='module')
def uninterrupted(tmp_path_factory, write_config, run_tool):
    """Two epochs (4 iterations each) without interruption; returns the final checkpoint."""
    folder = tmp_path_factory.mktemp('uninterrupted')
    config = write_config(folder, PERSISTENT_WORKERS)
    result = run_tool(['python', 'tools/train.py', str(config), '--work-dir', str(folder / 'w')] + COMMON,
                      folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / 'w' / 'epoch_2.pth'


def _train(run_tool, config, work_dir, tmp_path, *flags):
    return run_tool(['python', 'tools/train.py', str(config), '--work-dir', str(work_dir)] + COMMON
                    + list(flags), tmp_path)


@pytest.mark.slow
def test_kill_9_in_epoch_2_then_resume_equals_the_uninterrupted_run(tmp_path, make_tiny_config, run_tool,
                                                                     with_hooks, uninterrupted):
    work_dir = tmp_path / 'w'
    killed = _train(run_tool, make_tiny_config(PERSISTENT_WORKERS + with_hooks(
        dict(type='KillAtIterHook', epoch=2, iteration=3))), work_dir, tmp_path)
    assert killed.returncode == -9
    assert not (work_dir / 'epoch_2.pth').exists()

    resumed = _train(run_tool, make_tiny_config(PERSISTENT_WORKERS), work_dir, tmp_path, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_weights(work_dir / 'epoch_2.pth', uninterrupted)


@pytest.mark.slow
def test_sigterm_checkpoints_the_current_iteration_and_resume_continues_from_it(
        tmp_path, make_tiny_config, run_tool, with_hooks, uninterrupted):
    work_dir = tmp_path / 'w'
    preempted = _train(run_tool, make_tiny_config(PERSISTENT_WORKERS + with_hooks(
        dict(type='KillAtIterHook', epoch=2, iteration=2, signal_name='SIGTERM'))), work_dir, tmp_path)
    log = preempted.stdout + preempted.stderr
    assert preempted.returncode == 0, log[-3000:]
    assert 'Stopped by SIGTERM after iteration 6 (epoch 2, batch 2)' in log
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'iter_6.pth')
    assert safe_load(str(work_dir / 'iter_6.pth'))['meta']['iter'] == 6

    resumed = _train(run_tool, make_tiny_config(PERSISTENT_WORKERS), work_dir, tmp_path, '--resume')
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert 'skipping the 2 of its 4 iterations trained before the interruption' in log
    assert_same_weights(work_dir / 'epoch_2.pth', uninterrupted)
    assert not (work_dir / 'iter_6.pth').exists(), 'epoch_2.pth replaces the preemption checkpoint'
    assert (work_dir / 'epoch_1.pth').exists()


@pytest.mark.slow
def test_iteration_checkpoints_resume_inside_the_epoch(tmp_path, make_tiny_config, run_tool, with_hooks,
                                                      uninterrupted):
    by_iter = "default_hooks = dict(checkpoint=dict(by_epoch=False, interval=3, max_keep_ckpts=2))\n"
    work_dir = tmp_path / 'w'
    killed = _train(run_tool, make_tiny_config(PERSISTENT_WORKERS + by_iter + with_hooks(
        dict(type='KillAtIterHook', epoch=2, iteration=3))), work_dir, tmp_path)
    assert killed.returncode == -9
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'iter_6.pth')

    resumed = _train(run_tool, make_tiny_config(PERSISTENT_WORKERS + by_iter), work_dir, tmp_path, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_weights(work_dir / 'iter_8.pth', uninterrupted)
