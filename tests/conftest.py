"""Puts this folder on sys.path (pytest's rootdir-less import mode), so tests import the oracles here."""
import os
import shutil
import tempfile

import ssd_npu  # noqa: F401  (first, before torch: it sets OpenMP's wait policy, see ssd_npu/__init__.py)

# isort: split
from toy_runner import make_runner, toy_dataset  # noqa: F401  (fixtures for every test folder)


def pytest_configure(config) -> None:
    # The annotation cache of every dataset the tests (and the tools they start) build: one
    # folder per test process, removed at its end, so that no run reads another's entries.
    if 'SSD_NPU_CACHE_DIR' not in os.environ:
        os.environ['SSD_NPU_CACHE_DIR'] = config._ssd_npu_cache = tempfile.mkdtemp(prefix='ssd_npu_cache_')
    if os.environ.get('PYTEST_XDIST_WORKER'):
        import torch

        # ``-n auto`` runs a worker per core: one thread each keeps them from oversubscribing the
        # cores (the tools the tests start run with OMP_NUM_THREADS=1 too, tests/test_tools/conftest.py).
        torch.set_num_threads(1)


def pytest_unconfigure(config) -> None:
    if getattr(config, '_ssd_npu_cache', None):
        shutil.rmtree(config._ssd_npu_cache, ignore_errors=True)


def pytest_collection_modifyitems(items) -> None:
    """Slow tests first, the README demo (minutes) before them: with ``-n auto`` (pytest-xdist) the
    long tests start at once and the short ones fill the other workers, instead of a long test
    starting last and running alone."""
    items.sort(key=lambda item: (item.get_closest_marker('longest') is None,
                                 item.get_closest_marker('slow') is None))
