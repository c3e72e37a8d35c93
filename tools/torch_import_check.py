"""The tools' import of ``ssd_npu/cli/console/torch_import_check.py``, before anything imports torch.

That file uses the standard library only; it is loaded here by its path, since importing it as
``ssd_npu.cli.console...`` would run ``ssd_npu/__init__.py``, which imports torch. The tools write
``from torch_import_check import explained_import_failures`` (this folder is their ``sys.path[0]``),
and ``tools/launch_env.sh`` runs this file as its device probe: it prints the device
(npu | cuda | cpu) or one explained failure, exit status 1.
"""
import importlib.util
import os.path as osp
import sys

_SOURCE = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'ssd_npu', 'cli', 'console',
                   'torch_import_check.py')
_spec = importlib.util.spec_from_file_location('_ssd_npu_torch_import_check', _SOURCE)
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)

CANN_ENV_VAR = _module.CANN_ENV_VAR
CANN_SEARCHED_VAR = _module.CANN_SEARCHED_VAR
explain = _module.explain
explained_import_failures = _module.explained_import_failures
failed_backend = _module.failed_backend
missing_distribution = _module.missing_distribution
probe_device = _module.probe_device

if __name__ == '__main__':
    print(probe_device())
