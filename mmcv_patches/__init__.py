"""Runtime fixes to mmengine 0.10.7 on current torch/setuptools, applied once by ``import ssd_npu``.

Nothing installed is edited: each module either registers a type in ssd_npu's registries
(found first under ``default_scope='ssd_npu'``) or swaps a function/class attribute of a
loaded mmengine module at runtime (originals kept in :data:`ORIGINALS`). Each module's
docstring says what it fixes and why:

* :mod:`.atomic_save` -- checkpoint files are replaced whole, never left truncated;
* :mod:`.builder` -- ``SGD``/``NpuFusedSGD`` build the fused SGD of the device;
* :mod:`.checkpoint` -- loading that never runs pickled code, local copies before downloads;
* :mod:`.device` -- mmengine's ``get_device`` honours ``SSD_NPU_DEVICE``;
* :mod:`.dist_utils` -- the ``pytorch`` launcher on npu/cuda/cpu, old launch env, timeout;
* :mod:`.distributed` -- DDP device arguments for CPU models;
* :mod:`.optimizer` -- AMP (autocast + GradScaler) on every device, loss scale logged;
* :mod:`.package_utils` -- ``is_installed``/``get_installed_path`` without ``pkg_resources``.
"""
import importlib

from ._patching import ORIGINALS

_applied = False


def apply() -> None:
    """Apply every patch; later calls do nothing."""
    global _applied
    if _applied:
        return
    # Set first: builder and optimizer import ssd_npu.registry, and ssd_npu's __init__ calls apply().
    _applied = True
    from . import atomic_save, checkpoint, device, dist_utils, distributed, package_utils

    # These two register SGD/NpuFusedSGD and AmpOptimWrapper in ssd_npu's registries when imported.
    for registering in ('builder', 'optimizer'):
        importlib.import_module(f'{__name__}.{registering}')
    atomic_save.apply()
    for module in (checkpoint, device, dist_utils, distributed, package_utils):
        module.patch()


__all__ = ['ORIGINALS', 'apply']
