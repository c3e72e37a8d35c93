"""Runtime fixes to mmengine 0.10.x on current torch/setuptools; nothing installed is edited.

Every patch replaces one attribute (a method, a module function, a table entry) through
:mod:`._patching`, which records mmengine's original in :data:`ORIGINALS` and can put it back
(:func:`undo`, :func:`unpatched`). Each module's docstring says what it fixes and why, and cites
the upstream report where one exists:

* :mod:`.atomic_save` -- checkpoint files are replaced whole, never left truncated;
* :mod:`.data_preprocessor` -- ``data_preprocessor.to('npu')`` on torch-npu 2.x;
* :mod:`.checkpoint` -- loading that never runs pickled code, local copies before downloads;
* :mod:`.device` -- mmengine's ``get_device`` answers the application's device choice;
* :mod:`.dist_utils` -- the pytorch, slurm and mpi launchers on npu/cuda/cpu, with a timeout;
* :mod:`.distributed` -- DDP device arguments for CPU models;
* :mod:`.package_utils` -- ``is_installed``/``get_installed_path`` without ``pkg_resources``.

This package imports nothing from the application that uses it; :mod:`.versions` warns once
when mmengine, mmcv-lite or torch is outside the releases the patches were tested on.
"""
import contextlib
from typing import Callable, Iterator, Optional

from ._patching import ORIGINALS, is_patched, undo
from .versions import warn_if_untested

_get_device: Optional[Callable[[], str]] = None


def apply(get_device: Optional[Callable[[], str]] = None) -> None:
    """Apply every patch not in place yet (calling it again changes nothing).

    Args:
        get_device: the application's device choice (``'npu'``/``'cuda'``/``'cpu'``), which
            mmengine's ``get_device`` then answers; remembered for later calls without one.
            Until one is given, mmengine's own answer stays.
    """
    global _get_device
    from . import atomic_save, checkpoint, data_preprocessor, device, dist_utils, distributed, package_utils

    warn_if_untested()
    if get_device is not None and get_device is not _get_device:
        if is_patched(device.KEY):
            undo(device.KEY)
        _get_device = get_device
    for module in (atomic_save, checkpoint, data_preprocessor, dist_utils, distributed, package_utils):
        module.patch()
    if _get_device is not None:
        device.patch(_get_device)


@contextlib.contextmanager
def unpatched(*keys: str) -> Iterator[None]:
    """Run the body with mmengine's originals of ``keys`` (keys of :data:`ORIGINALS`), then re-apply."""
    undo(*keys)
    try:
        yield
    finally:
        apply()


__all__ = ['ORIGINALS', 'apply', 'is_patched', 'undo', 'unpatched']
