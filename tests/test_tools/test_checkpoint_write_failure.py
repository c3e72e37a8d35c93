"""A checkpoint that cannot be written (file size limit, full disk) stops the run and loses nothing."""
import resource

import pytest

from mmcv_patches.checkpoint import safe_load


@pytest.mark.slow
def test_file_size_limit_keeps_the_previous_checkpoint_resumable(tmp_path, make_tiny_config, run_tool):
    # The newest checkpoint only: mmengine would remove epoch_1.pth before writing epoch_2.pth.
    config = make_tiny_config('default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))\n'
                              'train_cfg = dict(max_epochs=1)\n')
    work_dir = tmp_path / 'w'
    train = ['python', 'tools/train.py', str(config), '--work-dir', str(work_dir), '--seed', '0']
    first = run_tool(train, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    epoch_1 = work_dir / 'epoch_1.pth'
    size = epoch_1.stat().st_size

    def limit_file_size():  # a real write failure (EFBIG), as a full disk gives ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    second = run_tool(train + ['--resume', '--cfg-options', 'train_cfg.max_epochs=2'], tmp_path,
                      preexec_fn=limit_file_size)
    output = second.stdout + second.stderr
    assert second.returncode != 0
    assert f'Could not write checkpoint {work_dir / "epoch_2.pth"}: File too large' in output
    assert f'still names the previous complete checkpoint {epoch_1}' in output
    assert (work_dir / 'last_checkpoint').read_text() == str(epoch_1)
    assert safe_load(str(epoch_1))['meta']['epoch'] == 1
    assert not (work_dir / 'epoch_2.pth').exists()
    assert not list(work_dir.glob('.*.tmp')), 'no partial file is left behind'


def test_a_work_dir_that_cannot_be_created_is_a_start_up_error(tmp_path, make_tiny_config, run_tool):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    result = run_tool(['python', 'tools/train.py', str(make_tiny_config()), '--work-dir',
                       str(blocker / 'work')], tmp_path)
    assert result.returncode == 1
    assert str(blocker / 'work') in result.stderr
    assert 'Traceback' not in result.stderr
