import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.fileio.backends.local_backend import LocalBackend

import mmcv_patches
from mmcv_patches import atomic_save

# A child process saves a 4 MB checkpoint over a small one and is killed by the kernel
# (SIGXFSZ) once it has written 1 MB: a real kill in the middle of saving.
_CHILD = textwrap.dedent('''
    import resource, sys, torch
    from mmengine.runner.checkpoint import save_checkpoint
    from mmcv_patches import atomic_save
    if sys.argv[2] == 'patched':
        atomic_save.patch()
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))
    save_checkpoint({'state_dict': {'w': torch.zeros(2**20)}}, sys.argv[1])
''')


def _kill_while_saving_over(path, mode: str) -> int:
    torch.save({'state_dict': {'w': torch.ones(3)}}, path)
    return subprocess.run([sys.executable, '-c', _CHILD, str(path), mode]).returncode


def test_apply_installs_the_atomic_writers():
    mmcv_patches.apply()
    assert LocalBackend.put is atomic_save._put
    assert LocalBackend.put_text is atomic_save._put_text


def test_kill_while_saving_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    assert _kill_while_saving_over(path, 'patched') != 0
    assert torch.equal(torch.load(path)['state_dict']['w'], torch.ones(3))


def test_without_the_patch_a_kill_truncates_the_checkpoint(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    assert _kill_while_saving_over(path, 'original') != 0
    with pytest.raises(Exception):  # noqa: B017 - torch reports a truncated zip in several ways
        torch.load(path)


def test_text_files_are_replaced_whole(tmp_path):
    path = tmp_path / 'last_checkpoint'
    LocalBackend().put_text('epoch_1.pth', path)
    LocalBackend().put_text('epoch_2.pth', path)
    assert path.read_text() == 'epoch_2.pth'
    assert [p.name for p in tmp_path.iterdir()] == ['last_checkpoint']
