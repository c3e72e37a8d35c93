import builtins
import importlib.util
import subprocess
import sys
import types
from importlib.machinery import ModuleSpec

import pytest
import torch

from ssd_npu.utils import device
from ssd_npu.utils.device import dist_backend, get_device, is_npu_available


@pytest.fixture(autouse=True)
def fresh_availability(monkeypatch):
    monkeypatch.delenv('SSD_NPU_DEVICE', raising=False)
    is_npu_available.cache_clear()
    yield
    is_npu_available.cache_clear()


def _torch_npu_installed(monkeypatch, npu_present: bool = True, autoloaded: bool = True,
                         importable: bool = True) -> list:
    """Pretend torch_npu is installed, as on an Ascend host: loaded by ``import torch`` (its autoload
    entry point; torch.npu exists), or, with autoload turned off, on import. Returns the imports seen."""
    real_find_spec, real_import = importlib.util.find_spec, builtins.__import__
    imported = []
    torch_npu_module = types.SimpleNamespace(is_available=lambda: npu_present)

    def find_spec(name, *args):
        return ModuleSpec(name, None) if name == 'torch_npu' else real_find_spec(name, *args)

    def torch_npu_import(name, *args, **kwargs):
        if name != 'torch_npu':
            return real_import(name, *args, **kwargs)
        imported.append(name)
        if not importable:
            raise RuntimeError('libhccl.so: cannot open shared object file')
        monkeypatch.setattr(torch, 'npu', torch_npu_module, raising=False)
        return types.ModuleType('torch_npu')

    monkeypatch.setattr(importlib.util, 'find_spec', find_spec)
    monkeypatch.setattr(builtins, '__import__', torch_npu_import)
    if autoloaded:
        monkeypatch.setattr(torch, 'npu', torch_npu_module, raising=False)
    return imported


def test_without_torch_npu_it_is_never_imported(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *args: None)
    real_import = builtins.__import__

    def guarded_import(name, *args, **kwargs):
        assert not name.startswith('torch_npu'), 'torch_npu import attempted'
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', guarded_import)
    assert is_npu_available() is False


@pytest.mark.parametrize('npu_present', [True, False])
def test_autoloaded_torch_npu_answers_whether_a_device_exists(monkeypatch, npu_present):
    imported = _torch_npu_installed(monkeypatch, npu_present=npu_present)
    assert is_npu_available() is npu_present
    assert imported == []   # import torch loaded it already


def test_torch_npu_with_autoload_off_is_imported_then(monkeypatch):
    imported = _torch_npu_installed(monkeypatch, autoloaded=False)
    assert is_npu_available() is True and imported == ['torch_npu']


def test_torch_npu_that_cannot_load_is_an_error_not_a_silent_cpu_run(monkeypatch):
    _torch_npu_installed(monkeypatch, autoloaded=False, importable=False)
    with pytest.raises(RuntimeError, match='libhccl'):
        is_npu_available()


@pytest.mark.parametrize('npu, cuda, expected',
                         [(True, True, 'npu'), (False, True, 'cuda'), (False, False, 'cpu')])
def test_automatic_choice_is_npu_then_cuda_then_cpu(monkeypatch, npu, cuda, expected):
    monkeypatch.setattr(device, 'is_npu_available', lambda: npu)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
    assert get_device() == expected


def test_argument_wins_over_environment_which_wins_over_automatic(monkeypatch):
    monkeypatch.setattr(device, 'is_npu_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setenv('SSD_NPU_DEVICE', 'cuda')
    assert get_device() == 'cuda'
    assert get_device('cpu') == 'cpu'
    monkeypatch.setenv('SSD_NPU_DEVICE', '')
    assert get_device() == 'npu'


def test_unknown_or_unavailable_devices_are_refused(monkeypatch):
    monkeypatch.setattr(device, 'is_npu_available', lambda: False)
    with pytest.raises(ValueError, match="'gpu'"):
        get_device('gpu')
    monkeypatch.setenv('SSD_NPU_DEVICE', 'npu')
    with pytest.raises(RuntimeError, match='SSD_NPU_DEVICE'):
        get_device()


def test_each_device_has_its_collective_backend():
    devices = ('npu', 'cuda', 'cpu', 'cuda:1')
    assert [dist_backend(name) for name in devices] == ['hccl', 'nccl', 'gloo', 'nccl']
    with pytest.raises(ValueError, match='mps'):
        dist_backend('mps')


# Records the file of every `import torch_npu` (not a find_spec look-up) and reports those in
# ssd_npu or mmcv_patches; mmengine tries the import itself, in its own try/except.
_IMPORT_PROBE = '''
import sys, traceback
attempts = []
class Probe:
    def find_spec(self, name, path=None, target=None):
        stack = traceback.extract_stack()[:-1]
        if name.split('.')[0] == 'torch_npu' and stack[-2].name == '_find_and_load_unlocked':
            importer = [f.filename for f in stack if not f.filename.startswith('<frozen')][-1]
            if '/ssd_npu/' in importer or '/mmcv_patches/' in importer:
                attempts.append(importer)
        return None
sys.meta_path.insert(0, Probe())
import ssd_npu
from ssd_npu.utils.device import get_device
print(get_device(), attempts)
'''


def test_import_ssd_npu_never_tries_torch_npu_where_it_is_absent():
    if importlib.util.find_spec('torch_npu') is not None:
        pytest.skip('torch_npu is installed on this host')
    out = subprocess.run([sys.executable, '-c', _IMPORT_PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == '[]'
