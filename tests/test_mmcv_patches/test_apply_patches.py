import mmengine.dist.utils
import mmengine.runner.runner
import mmengine.utils
from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.model import MMDistributedDataParallel
from mmengine.runner.checkpoint import CheckpointLoader

import mmcv_patches
import ssd_npu.utils.device
from mmcv_patches import atomic_save, checkpoint, device, dist_utils, distributed, package_utils
from ssd_npu.registry import OPTIM_WRAPPERS, OPTIMIZERS


def _patched_state() -> dict:
    return dict(
        originals=dict(mmcv_patches.ORIGINALS),
        schemes=dict(CheckpointLoader._schemes),
        init_dist=mmengine.dist.utils._init_dist_pytorch,
        ddp_init=MMDistributedDataParallel.__init__,
        is_installed=mmengine.utils.is_installed,
        runner_get_device=mmengine.runner.runner.get_device,
        put=LocalBackend.put,
        registered=(dict(OPTIMIZERS.module_dict), dict(OPTIM_WRAPPERS.module_dict)),
    )


def test_apply_patches_once_and_again_changes_nothing():
    mmcv_patches.apply()
    state = _patched_state()
    assert state['init_dist'] is dist_utils.init_dist_pytorch
    assert state['ddp_init'] is distributed.ddp_init
    assert state['is_installed'] is package_utils.is_installed
    assert state['runner_get_device'] is ssd_npu.utils.device.get_device
    assert state['schemes'][''] is checkpoint.load_from_local
    assert state['put'] is atomic_save._put
    assert set(state['registered'][0]) == {'SGD', 'NpuFusedSGD'} and set(state['registered'][1]) == {
        'AmpOptimWrapper'}

    mmcv_patches.apply()
    # each patch run a second time, too: nothing is wrapped twice, originals stay mmengine's
    atomic_save.apply()
    for module in (checkpoint, device, dist_utils, distributed, package_utils):
        module.patch()
    assert _patched_state() == state
    original_ddp_init = mmcv_patches.ORIGINALS['mmengine.model.MMDistributedDataParallel.__init__']
    assert original_ddp_init is not distributed.ddp_init
