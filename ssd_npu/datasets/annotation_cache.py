"""Parse an annotation file once per machine: a memory-mapped cache of the serialized data infos.

mmengine's ``BaseDataset`` parses the annotation file in every process and keeps the result as
one pickled byte array per process (``serialize_data``). With 8 ranks on a machine that is 8
parses of a COCO-sized JSON at the same moment (about 2 GiB and half a minute each). Here the
first process to arrive parses, under a file lock, and writes that byte array and its offsets
as two ``.npy`` files; every process, the first included, then maps them read-only, so the
machine holds one copy in its page cache and dataloader workers read it without copying
(mapped file pages are not touched by reference counting, so there is no copy-on-read growth).

An entry is keyed by everything its content depends on: the annotation file's real path, size
and modification time, the dataset class and the source of the parser's modules, and the
dataset arguments that change the result (classes, data root and prefix, filter, test mode,
indices). A changed file or a changed parser misses the cache and parses again.

The cached infos are plain Python data (dicts, lists, strings, numbers); they are read with an
unpickler that refuses every class or function reference, so a tampered cache cannot run code.
The folder is created private to the user, and a folder that another user could write to is not
used (the dataset parses instead, with a warning).
"""
import fcntl
import hashlib
import io
import json
import logging
import os
import os.path as osp
import pickle
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple

import mmengine
import numpy as np
from mmengine.logging import print_log

# Bumped when the layout of an entry changes.
CACHE_FORMAT = 1

_DATA_BYTES = 'data_bytes.npy'
_DATA_ADDRESS = 'data_address.npy'
_EXTRAS = 'extras.pkl'


def default_cache_dir() -> str:
    """``$SSD_NPU_CACHE_DIR/annotations``, else ``~/.cache/ssd_npu/annotations``."""
    root = os.environ.get('SSD_NPU_CACHE_DIR') or osp.join(osp.expanduser('~'), '.cache',
                                                           'ssd_npu')
    return osp.join(root, 'annotations')


class _PlainDataUnpickler(pickle.Unpickler):
    """Loads dicts, lists, tuples, strings, numbers, booleans and None; nothing that names a
    class or a function (the opcodes that would need one all go through ``find_class``)."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(
            f'annotation cache entries hold plain data only, not {module}.{name}')


def load_plain(data) -> object:
    """Unpickle ``data`` (bytes or a buffer) that may hold plain Python data only."""
    return _PlainDataUnpickler(io.BytesIO(data)).load()


def _parser_digest(dataset_type: type) -> str:
    """A digest of the Python files beside the module of every class in ``dataset_type``'s MRO
    (the standard library's aside), so that editing a parser or a helper it imports from its
    own package invalidates its entries."""
    folders = []
    for cls in dataset_type.__mro__:
        path = getattr(sys.modules.get(cls.__module__), '__file__', None)
        if path and cls.__module__.split('.')[0] not in sys.stdlib_module_names:
            folder = osp.dirname(osp.abspath(path))
            if folder not in folders:
                folders.append(folder)
    digest = hashlib.sha256()
    for folder in folders:
        for name in sorted(os.listdir(folder)):
            if name.endswith('.py'):
                with open(osp.join(folder, name), 'rb') as f:
                    digest.update(name.encode() + b'\0' + f.read())
    return digest.hexdigest()


def _is_private_folder(path: str) -> bool:
    info = os.stat(path)
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class AnnotationCache:
    """One entry of the cache: the serialized data infos of one dataset configuration.

    Args:
        folder: the cache folder (created with mode 0700 when missing).
        ann_file: the local annotation file the entry is parsed from.
        dataset_type: the dataset class that parses it.
        arguments: the dataset arguments the parse depends on (JSON-serializable or given by
            their ``repr``).
    """

    def __init__(self, folder: str, ann_file: str, dataset_type: type, arguments: dict) -> None:
        self.folder = folder
        self.ann_file = ann_file
        real = osp.realpath(ann_file)
        info = os.stat(real)
        self.key = dict(format=CACHE_FORMAT, ann_file=real, size=info.st_size,
                        mtime_ns=info.st_mtime_ns, dataset_type=dataset_type.__qualname__,
                        parser=_parser_digest(dataset_type), mmengine=mmengine.__version__,
                        arguments=arguments)
        encoded = json.dumps(self.key, sort_keys=True, default=repr).encode()
        stem = osp.splitext(osp.basename(real))[0]
        self.path = osp.join(folder, f'{stem}-{hashlib.sha256(encoded).hexdigest()[:20]}')

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the entry's lock: one process per machine parses, the others wait for it."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        with open(self.path + '.lock', 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def exists(self) -> bool:
        return osp.isfile(osp.join(self.path, _EXTRAS))

    def store(self, data_bytes: np.ndarray, data_address: np.ndarray, extras: dict) -> bool:
        """Write an entry atomically (a temporary folder renamed into place).

        Returns:
            False, with nothing written, when the infos or extras are not plain data (a parser
            that stores arrays or objects in its infos is then parsed in every process).
        """
        payload = pickle.dumps(extras, protocol=4)
        try:
            load_plain(payload)
            start = 0
            for end in data_address.tolist():
                load_plain(memoryview(data_bytes[start:end]))
                start = end
        except pickle.UnpicklingError as e:
            print_log(f'{self.ann_file}: not cached ({e}); every process parses it',
                      logger='current', level=logging.WARNING)
            return False
        staging = tempfile.mkdtemp(prefix=osp.basename(self.path) + '.tmp-', dir=self.folder)
        try:
            np.save(osp.join(staging, _DATA_BYTES), data_bytes)
            np.save(osp.join(staging, _DATA_ADDRESS), data_address)
            with open(osp.join(staging, 'key.json'), 'w') as f:
                json.dump(self.key, f, indent=1, sort_keys=True, default=repr)
            # Written last: an entry counts as complete once its extras exist.
            with open(osp.join(staging, _EXTRAS), 'wb') as f:
                f.write(payload)
            os.rename(staging, self.path)
        except OSError as e:  # a full disk, a quota: train from the parse in memory
            shutil.rmtree(staging, ignore_errors=True)
            print_log(f'{self.ann_file}: not cached, writing {self.path} failed ({e}); every '
                      'process parses it', logger='current', level=logging.WARNING)
            return False
        return True

    def load(self) -> Tuple[np.ndarray, np.ndarray, dict]:
        """Map the entry: ``(data_bytes, data_address, extras)``, the arrays read-only.

        Raises:
            RuntimeError: the entry is unreadable or holds more than plain data; the message
                names it (delete it to parse again).
        """
        try:
            data_bytes = np.load(osp.join(self.path, _DATA_BYTES), mmap_mode='r')
            data_address = np.load(osp.join(self.path, _DATA_ADDRESS), mmap_mode='r')
            with open(osp.join(self.path, _EXTRAS), 'rb') as f:
                extras = load_plain(f.read())
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as e:
            raise RuntimeError(f'{self.path}: broken annotation cache entry for {self.ann_file} '
                               f'({e}); delete the folder to parse the file again') from e
        return data_bytes, data_address, extras


def open_cache(folder: str, ann_file: str, dataset_type: type,
               arguments: dict) -> Optional[AnnotationCache]:
    """The cache entry for this parse, or None when the cache cannot be used here: the
    annotation file is not a local file, or ``folder`` is not private to this user."""
    if not ann_file or not osp.isfile(ann_file):
        return None
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        usable = _is_private_folder(folder) and os.access(folder, os.W_OK)
    except OSError:
        usable = False
    if not usable:
        print_log(f'annotation cache {folder} is not a folder only this user can write to; '
                  f'{ann_file} is parsed in every process', logger='current',
                  level=logging.WARNING)
        return None
    return AnnotationCache(folder, ann_file, dataset_type, arguments)
