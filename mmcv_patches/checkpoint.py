"""Checkpoint loading that never runs code from the file, for everything mmengine loads.

Fixes two things at once:

* torch>=2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7 calls
  ``torch.load`` bare, so ``--resume`` and ``load_from`` of mmengine's own checkpoints fail
  with ``Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer`` (its
  message hub holds HistoryBuffers and numpy arrays). Reported upstream as
  open-mmlab/mmengine#1655; the open pull request open-mmlab/mmengine#1650 would pass
  ``weights_only=False`` instead, which runs pickled code.
* mmengine's ``http(s)://``, ``torchvision://``, ``open-mmlab://`` and ``mmcls://`` loaders go
  through ``torch.hub.load_state_dict_from_url``, which loads with ``weights_only=False``:
  a downloaded (or cached) file can run any code on unpickling.

:func:`safe_load` is ``torch.load(weights_only=True)`` with a few data-only types allowed
in addition to tensors and containers: numpy arrays, dtypes and scalars, and mmengine's
HistoryBuffer. HistoryBuffer pickles its statistics methods as
``builtins.getattr(HistoryBuffer, 'mean')``; allowing ``builtins.getattr`` itself would let a
file reach any attribute of anything (``HistoryBuffer.mean.__globals__``...), so that name is
bound to :func:`_history_buffer_statistic`, which returns only those methods. Everything
else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, arbitrary classes) is refused
with :class:`UnsafeCheckpointError`, naming the file and the refused global.

URL schemes resolve to a local file before any download: ``$SSD_NPU_CHECKPOINT_DIR/<file>``,
then torch hub's cache ``<torch.hub.get_dir()>/checkpoints/<file>``, where ``<file>`` is the
last path component of the URL; only then is it downloaded (into the hub cache).
"""
import inspect
import io
import logging
import os
import os.path as osp
import pickle
import re
import sys
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from typing import IO, Any, Callable, List, Optional, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import checkpoint as mm_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

from ._patching import replace_everywhere, replace_item

CHECKPOINT_DIR_ENV = 'SSD_NPU_CHECKPOINT_DIR'
MapLocation = Union[str, torch.device, Callable, dict, None]


class UnsafeCheckpointError(ValueError):
    """A checkpoint needs something other than data to unpickle (a function call, a class)."""


def _history_buffer_statistic(obj: Any, name: str) -> Callable:
    """Stands in for ``builtins.getattr`` while unpickling: only public methods of HistoryBuffer.

    HistoryBuffer pickles its statistics (``mean``, ``max``...) this way. Nothing else is
    reachable: no other object, no dunder or private attribute, nothing but plain functions.
    """
    attribute = vars(HistoryBuffer).get(name) if obj is HistoryBuffer else None
    if not name.startswith('_') and inspect.isfunction(attribute):
        return attribute
    raise pickle.UnpicklingError(f'refused builtins.getattr({obj!r}, {name!r}): only the statistics '
                                 'methods of mmengine HistoryBuffer may be looked up')


def _data_only_globals() -> List[tuple]:
    """(object, pickled name) pairs allowed besides torch's defaults, all of them data."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray

    allowed = [(np.ndarray, 'numpy.ndarray'), (np.dtype, 'numpy.dtype'),
               (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
               (_history_buffer_statistic, 'builtins.getattr')]
    # numpy 2 pickles the module as numpy._core.multiarray, numpy 1.x (older checkpoints) as numpy.core.
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        allowed += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    # numpy>=1.25 builds dtypes as instances of per-type classes (numpy.dtypes.Float32DType ...);
    # torch's unpickler checks the class of the object it restores state into.
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes['All']}
    allowed += [(cls, f'{cls.__module__}.{cls.__qualname__}') for cls in dtype_classes]
    return allowed


def _describe_refusal(message: str) -> str:
    """What torch's weights-only unpickler (or :func:`_history_buffer_statistic`) refused."""
    match = (re.search(r'GLOBAL (\S+) was not an allowed global', message)
             or re.search(r'unsupported GLOBAL (\S+) whose module', message))
    if match:
        # torch strips 'builtins.' from the names it reports; protocol-2 pickles (torch.save's) hold
        # Python 2 module names (subprocess is written as 'commands').
        module, _, name = match.group(1).rpartition('.')
        module = module or 'builtins'
        module, name = NAME_MAPPING.get((module, name), (IMPORT_MAPPING.get(module, module), name))
        return f"the global '{module}.{name}'"
    match = re.search(r'refused (builtins\.getattr\(.*?\)):', message)
    if match:
        return match.group(1)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else 'an object that is not data'


def safe_load(path_or_file: Union[str, os.PathLike, IO[bytes]], map_location: MapLocation = 'cpu') -> Any:
    """Load a ``torch.save`` file without executing code from it.

    Accepts plain state dicts, torchvision/mmdetection model-zoo files and mmengine
    checkpoints (meta, message_hub, optimizer, param_schedulers, AMP loss scaler state).

    Args:
        path_or_file: a local path or a binary file object.
        map_location: as :func:`torch.load`.

    Raises:
        UnsafeCheckpointError: the file references a callable or class that is not data;
            the message names the file and what was refused.
    """
    name = (os.fspath(path_or_file) if isinstance(path_or_file, (str, os.PathLike))
            else getattr(path_or_file, 'name', '<file object>'))
    try:
        with torch.serialization.safe_globals(_data_only_globals()):
            return torch.load(path_or_file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {name}: it contains {_describe_refusal(str(err))}, which is '
            'not data (tensors, containers, numpy arrays, mmengine HistoryBuffer); unpickling it could run '
            'code from the file. If you trust its source, re-save only its tensors (the state_dict) with '
            'torch.save and load that file instead.') from None


def local_checkpoint_candidates(url: str, model_dir: Optional[str] = None) -> List[str]:
    """Where a URL's file is looked for before downloading, in order.

    ``$SSD_NPU_CHECKPOINT_DIR/<file>`` (when set), then ``<model_dir>/<file>`` with
    ``model_dir`` defaulting to torch hub's checkpoint cache.
    """
    filename = osp.basename(urlparse(url).path)
    directories = [os.environ[CHECKPOINT_DIR_ENV]] if os.environ.get(CHECKPOINT_DIR_ENV) else []
    directories.append(model_dir or osp.join(torch.hub.get_dir(), 'checkpoints'))
    return [osp.join(osp.expanduser(directory), filename) for directory in directories]


def cached_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """The local path of a URL's checkpoint, downloading it into the cache only when no copy exists.

    In a distributed run rank 0 downloads while the others wait, as mmengine does.
    """
    candidates = local_checkpoint_candidates(url, model_dir)
    for path in candidates:
        if osp.isfile(path):
            return path
    destination = candidates[-1]
    rank, world_size = get_dist_info()
    if rank == 0:
        _download(url, destination)
    if world_size > 1:
        barrier()
        if not osp.isfile(destination):  # another node's rank 0 filled its own cache
            _download(url, destination)
    return destination


class CheckpointDownloadError(OSError):
    """A checkpoint URL has no local copy and cannot be downloaded (offline host, proxy, firewall)."""


def _download(url: str, destination: str) -> None:
    filename = osp.basename(destination)
    print_log(f'no local copy of {url} (set {CHECKPOINT_DIR_ENV} to a folder holding '
              f'{filename}); downloading it to {destination}', logger='current')
    os.makedirs(osp.dirname(destination), exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, destination, progress=sys.stderr.isatty())
    except (OSError, ValueError) as error:  # URLError and HTTPError are OSErrors
        raise CheckpointDownloadError(
            f'cannot download {url} ({getattr(error, "reason", error)}). On a host without internet access, '
            f'download {filename} elsewhere and put it into {osp.dirname(destination)}/ (or into a folder '
            f'named by the environment variable {CHECKPOINT_DIR_ENV}); or train without these weights by '
            "setting the init_cfg that names the URL to None "
            "(e.g. --cfg-options model.backbone.init_cfg=None)."
        ) from None


def load_from_local(filename: str, map_location: MapLocation = None) -> Any:
    """mmengine's local-file scheme through :func:`safe_load`."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_load(filename, map_location)


def load_from_http(filename: str, map_location: MapLocation = None, model_dir: Optional[str] = None,
                   progress: bool = True) -> Any:
    """``http(s)://`` through the local copies, then the hub cache, then a download; safely loaded.

    ``progress`` is mmengine's argument; the download shows a progress bar on a terminal only.
    """
    return safe_load(cached_checkpoint(filename, model_dir), map_location)


def load_from_torchvision(filename: str, map_location: MapLocation = None) -> Any:
    """``torchvision://<name>`` (and the deprecated ``modelzoo://``) via mmengine's URL table."""
    model_name = filename.split('://', 1)[1]
    return load_from_http(mm_checkpoint.get_torchvision_models()[model_name], map_location)


def load_from_openmmlab(filename: str, map_location: MapLocation = None) -> Any:
    """``open-mmlab://<name>`` (or ``openmmlab://``) via mmengine's URL table, deprecated names mapped."""
    model_name = filename.split('://', 1)[1]
    renamed = mm_checkpoint.get_deprecated_model_names()
    if model_name in renamed:
        print_log(f'{filename} is deprecated in favor of {renamed[model_name]}', logger='current',
                  level=logging.WARNING)
        model_name = renamed[model_name]
    model_url = mm_checkpoint.get_external_models()[model_name]
    if model_url.startswith(('http://', 'https://')):
        return load_from_http(model_url, map_location)
    return load_from_local(osp.join(mm_checkpoint._get_mmengine_home(), model_url), map_location)


def load_from_mmcls(filename: str, map_location: MapLocation = None) -> Any:
    """``mmcls://<name>``: the backbone weights of an mmcls model-zoo file."""
    model_url = mm_checkpoint.get_mmcls_models()[filename[len('mmcls://'):]]
    return mm_checkpoint._process_mmcls_checkpoint(load_from_http(model_url, map_location))


def load_from_ceph(filename: str, map_location: MapLocation = None, backend: str = 'petrel') -> Any:
    """``s3://`` and ``petrel://`` through mmengine's file backend, then :func:`safe_load`."""
    file_backend = mm_checkpoint.get_file_backend(filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        buffer.name = filename
        return safe_load(buffer, map_location)


SAFE_LOADERS = {'': load_from_local, 'http://': load_from_http, 'https://': load_from_http,
                'modelzoo://': load_from_torchvision, 'torchvision://': load_from_torchvision,
                'open-mmlab://': load_from_openmmlab, 'openmmlab://': load_from_openmmlab,
                'mmcls://': load_from_mmcls, r'(\S+\:)?s3://': load_from_ceph,
                r'(\S+\:)?petrel://': load_from_ceph}


def patch() -> None:
    """Put the safe loaders in mmengine's scheme table, for every scheme it loads with ``torch.load``.

    The entries of ``CheckpointLoader._schemes`` are replaced in place (its order, longest prefix
    first, stays). ``pavi://`` keeps mmengine's loader: it calls ``torch.load`` bare, which
    torch>=2.6 already runs weights-only (safe, though mmengine checkpoints fail there).
    """
    for prefix, loader in SAFE_LOADERS.items():
        replace_item(CheckpointLoader._schemes, prefix, loader,
                     key=f'mmengine.runner.checkpoint.CheckpointLoader._schemes[{prefix!r}]')
    replace_everywhere('mmengine.runner.checkpoint', 'load_from_http', load_from_http)
