"""Atomic checkpoint files.

What it fixes: mmengine's ``LocalBackend.put``/``put_text`` (used by ``save_checkpoint`` and by
``CheckpointHook`` for the ``last_checkpoint`` pointer) open the target with ``'wb'`` and write
into it. A job killed during that write (SIGKILL, node failure, out of disk) leaves a truncated
``epoch_N.pth`` that ``--resume`` then picks and fails on, hours of training lost.

The patch writes to a temporary file in the same folder, flushes it to disk and renames it over
the target (``os.replace`` is atomic on POSIX and Windows): the target is always either the
previous complete file or the new complete one. The pointer file is written after the
checkpoint, so it never names an incomplete checkpoint. The methods of the class are replaced
(not a subclass registered): mmengine builds its backends from its own table, by URI prefix.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio.backends.local_backend import LocalBackend

from ._patching import replace_attribute


def write_atomically(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that readers see the old file or the whole new one."""
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(filepath)}.', suffix='.tmp')
    try:
        with os.fdopen(handle, 'wb') as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, filepath)
    except BaseException:
        if osp.exists(temporary):
            os.remove(temporary)
        raise


def _put(self, obj: bytes, filepath: Union[str, Path]) -> None:
    write_atomically(obj, filepath)


def _put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
    write_atomically(obj.encode(encoding), filepath)


def patch() -> None:
    """Make mmengine's local file writes atomic."""
    replace_attribute(LocalBackend, 'put', _put)
    replace_attribute(LocalBackend, 'put_text', _put_text)
