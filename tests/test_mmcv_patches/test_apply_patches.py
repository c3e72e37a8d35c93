import mmengine.dist.utils
import mmengine.runner.runner
import mmengine.utils
import pytest
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.model import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader

import mmcv_patches
import ssd_npu  # noqa: F401  (applies the patches with its device choice, as users get them)
from mmcv_patches import atomic_save, checkpoint, dist_utils, distributed, package_utils


def _state() -> dict:
    return dict(
        schemes=dict(CheckpointLoader._schemes),
        init_dist=(mmengine.dist.utils._init_dist_pytorch, mmengine.dist.utils._init_dist_slurm,
                   mmengine.dist.utils._init_dist_mpi),
        ddp_init=MMDistributedDataParallel.__init__,
        is_installed=mmengine.utils.is_installed,
        runner_get_device=mmengine.runner.runner.get_device,
        put=(LocalBackend.put, LocalBackend.put_text),
    )


def test_apply_patches_once_and_again_changes_nothing():
    mmcv_patches.apply()
    state = _state()
    assert state['init_dist'] == (dist_utils.init_dist_pytorch, dist_utils.init_dist_slurm,
                                  dist_utils.init_dist_mpi)
    assert state['ddp_init'] is distributed.ddp_init
    assert state['is_installed'] is package_utils.is_installed
    assert state['schemes'][''] is checkpoint.load_from_local
    assert state['put'] == (atomic_save._put, atomic_save._put_text)
    originals = dict(mmcv_patches.ORIGINALS)

    mmcv_patches.apply()
    for module in (atomic_save, checkpoint, dist_utils, distributed, package_utils):
        module.patch()
    assert _state() == state and mmcv_patches.ORIGINALS == originals
    assert mmcv_patches.ORIGINALS[distributed.KEY] is not distributed.ddp_init


def test_undo_puts_every_original_back_and_apply_restores_the_patches():
    mmcv_patches.apply()
    patched = _state()
    with mmcv_patches.unpatched():
        original = _state()
        assert original['ddp_init'] is mmcv_patches.ORIGINALS[distributed.KEY]
        assert original['is_installed'] is mmcv_patches.ORIGINALS['mmengine.utils.package_utils.is_installed']
        assert original['put'][0] is mmcv_patches.ORIGINALS[
            'mmengine.fileio.backends.local_backend.LocalBackend.put']
        assert original['schemes'][''] is not checkpoint.load_from_local
        # every holder of a module function is restored, not only the defining module
        assert original['runner_get_device'] is mmcv_patches.ORIGINALS['mmengine.device.utils.get_device']
        holders = (mmengine.utils, mmengine.config.config)
        assert not any(value is package_utils.is_installed
                       for module in holders for value in vars(module).values())
    assert _state() == patched


def test_modules_imported_after_the_patch_get_the_patched_function():
    mmcv_patches.apply()
    namespace: dict = {}
    exec('from mmengine.utils import is_installed', namespace)
    assert namespace['is_installed'] is package_utils.is_installed


def test_undo_of_an_unknown_key_fails():
    with pytest.raises(KeyError):
        mmcv_patches.undo('mmengine.nothing')


def test_the_patch_layer_imports_nothing_from_ssd_npu():
    import pathlib

    sources = pathlib.Path(mmcv_patches.__file__).parent.glob('*.py')
    assert [path.name for path in sources if 'ssd_npu' in path.read_text()] == []
