"""One-line answers for the start-up failures that happen before ssd_npu runs: ``import torch`` itself.

Since torch-npu 2.5.1 the wheel registers itself as a torch device backend (entry point
``torch.backends: torch_npu``), so ``import torch`` imports torch_npu and raises
``RuntimeError: Failed to load the backend extension: torch_npu`` when CANN's libraries cannot be
found (CANN's ``set_env.sh`` not sourced). That error surfaces as a long traceback from the first
line of a tool, far from its cause; a missing dependency (``No module named 'mmengine'``) looks
the same. This module uses the standard library only, and so does the package it is in (installed
as the top-level ``ssd_npu_console``, whose import runs no ``ssd_npu/__init__.py``), so that the
``ssd_npu`` command and the tools (``tools/torch_import_check.py`` loads this file) import it
before anything imports torch:

* :func:`explained_import_failures` wraps the commands' imports: those two failures become a short
  message and exit status 1; other errors keep their traceback;
* :func:`probe_device` is ``tools/launch_env.sh``'s device probe (``python
  tools/torch_import_check.py``): it prints the device (npu | cuda | cpu) or one explained
  failure, exit status 1.

``tools/launch_env.sh`` passes what it did about CANN in ``SSD_NPU_CANN_ENV`` (the ``set_env.sh``
it sourced, empty when none) and ``SSD_NPU_CANN_SEARCHED`` (the paths it looked at,
``os.pathsep``-separated), so the message can say which files were tried.
"""
import contextlib
import importlib.util
import os
import re
import sys
from typing import Iterator, List, NoReturn, Optional

CANN_ENV_VAR = 'SSD_NPU_CANN_ENV'
CANN_SEARCHED_VAR = 'SSD_NPU_CANN_SEARCHED'
# torch's wording in torch/__init__.py (_import_device_backends), torch 2.5 to 2.14 at least.
_BACKEND_FAILURE = re.compile(r'Failed to load the backend extension: ([\w.-]+?)\.?(?:\s|$)')
_TYPICAL_CANN_ENV = '/usr/local/Ascend/ascend-toolkit/set_env.sh or /usr/local/Ascend/cann/set_env.sh'


def _chain(error: BaseException) -> List[BaseException]:
    """``error`` and the exceptions it was raised from, outermost first."""
    chain: List[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _last_line(error: BaseException) -> str:
    """The innermost cause, as the last line of its traceback reads."""
    root = _chain(error)[-1]
    message = str(root).strip().splitlines()
    return f'{type(root).__name__}: {message[-1]}' if message else type(root).__name__


def failed_backend(error: BaseException) -> Optional[str]:
    """The name of the torch device backend whose autoload raised ``error`` (``'torch_npu'``), or None."""
    for link in _chain(error):
        match = _BACKEND_FAILURE.search(str(link))
        if match:
            return match.group(1)
    return None


def missing_distribution(error: BaseException) -> Optional[str]:
    """The top-level module of a ``ModuleNotFoundError`` when nothing of that name is installed.

    A missing submodule of an installed package (``ssd_npu.nope``) is a bug, not a missing install:
    None then.
    """
    if not isinstance(error, ModuleNotFoundError) or not error.name:
        return None
    top = error.name.split('.')[0]
    if top != error.name and importlib.util.find_spec(top) is not None:
        return None
    return top


def _cann_advice(environ: dict) -> str:
    sourced = environ.get(CANN_ENV_VAR, '')
    searched = [path for path in environ.get(CANN_SEARCHED_VAR, '').split(os.pathsep) if path]
    if sourced:
        return (f"torch_npu cannot load although CANN's {sourced} was sourced: this CANN does not suit the "
                "installed torch_npu (see Ascend's compatibility table), or the NPU driver is missing")
    if searched:
        return f"torch_npu cannot load (source CANN's set_env.sh: none of {', '.join(searched)} exists)"
    return (f"torch_npu cannot load (source CANN's set_env.sh first, e.g. {_TYPICAL_CANN_ENV}; "
            'run_1p.sh and run_8p.sh find and source it)')


def explain(error: BaseException, environ: Optional[dict] = None) -> Optional[str]:
    """The message for a failure of ``import torch`` / ``import ssd_npu``, or None for other errors.

    The message has two lines: what is wrong and what to do, then the Python error's last line.
    """
    environ = dict(os.environ if environ is None else environ)
    backend = failed_backend(error)
    if backend == 'torch_npu':
        advice = (_cann_advice(environ) + '; TORCH_DEVICE_BACKEND_AUTOLOAD=0 starts torch without it')
    elif backend is not None:
        advice = (f"torch's device backend {backend} cannot load; "
                  'TORCH_DEVICE_BACKEND_AUTOLOAD=0 starts torch without it')
    elif missing_distribution(error) is not None:
        advice = 'ssd_npu is not installed (pip install -e .)'
    else:
        return None
    return f'{advice}\n  {_last_line(error)}'


def _fail(message: str) -> NoReturn:
    print(f'ERROR: {message}', file=sys.stderr)
    sys.exit(1)


@contextlib.contextmanager
def explained_import_failures() -> Iterator[None]:
    """Run the commands' imports: a torch backend that cannot load or a missing install exits with status 1
    and a short message; other errors pass unchanged."""
    try:
        yield
    except (ImportError, OSError, RuntimeError) as error:
        message = explain(error)
        if message is None:
            raise
        _fail(message)


def probe_device() -> str:
    """The device ssd_npu would run on; any failure on the way exits with status 1 and one message."""
    try:
        from ssd_npu.utils.device import get_device
    except Exception as error:  # the probe explains every failure, expected or not, in one message
        _fail(explain(error) or f'cannot import ssd_npu\n  {_last_line(error)}')
    try:
        return get_device()
    except (ValueError, RuntimeError) as error:  # SSD_NPU_DEVICE names a device this host lacks
        _fail(str(error))

