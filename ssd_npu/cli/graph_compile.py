"""``compile=True`` (mmengine's config key) and ``--compile``: compile the detector's static regions.

mmengine's Runner would wrap the whole ``train_step`` in ``torch.compile``,
which takes in the optimizer wrapper, logging and Python bookkeeping and so
breaks the graph many times. SSD instead compiles what graph-mode devices
need as single static graphs: the data preprocessor's normalisation, and the
network + loss (training) or network + batched post-processing (testing);
see :meth:`ssd_npu.models.detectors.SSD.compile_graphs`.

The backend follows the device unless ``compile=dict(backend=...)`` names one:

- ``npu``: Ascend's graph engine, torchair (bundled in torch-npu as ``torch_npu.dynamo.torchair``),
  through ``torchair.get_npu_backend(compiler_config=torchair.CompilerConfig())``: every supported
  torch-npu has it, whether or not it also registers the ``'npu'`` backend name (2.14.0 by entry
  point, 2.6.0.post5 on import). A torch-npu built without torchair would run ``'npu'`` eagerly
  with a warning; there Inductor is used if Triton-Ascend is installed, else start-up stops.
- ``cuda``: Inductor (torch's default).
- ``cpu``: Inductor, on torch 2.14 or newer: Inductor's C++ code of torch 2.6.0 and 2.8.0 gives the
  SSD loss wrong numbers (1 % off; ``aot_eager`` matches eager exactly), releases in between were
  not measured. ``compile=dict(backend='aot_eager')`` traces the same graphs without Inductor.
"""
import importlib.util
import logging
from importlib import metadata
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log

from ssd_npu.errors import UsageError

# The first torch whose CPU Inductor gives the SSD loss eager's numbers (tests/test_models/test_detectors/
# test_graph_mode.py::test_inductor_losses_equal_eager); 2.6.0 and 2.8.0 do not.
CPU_INDUCTOR_MIN_TORCH = (2, 14)
TORCHAIR = 'torch_npu.dynamo.torchair'

Backend = Union[str, Callable]


def take_compile_options(cfg: Config) -> Optional[dict]:
    """Remove ``compile`` from ``cfg`` (so mmengine does not compile ``train_step``) and return the
    ``torch.compile`` keyword arguments it asks for, or None when it is absent or False."""
    value = cfg.pop('compile', None)
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f'compile must be True, False or a dict of torch.compile arguments, got {value!r}')
    return dict(value)


def torch_release(version: str = torch.__version__) -> Tuple[int, int]:
    """(major, minor) of a torch version string such as ``'2.6.0+cpu'``."""
    major, minor = version.split('+')[0].split('.')[:2]
    return int(major), int(minor)


def has_triton_ascend() -> bool:
    """Whether Triton-Ascend (Inductor's code generator for Ascend NPUs) is installed."""
    try:
        metadata.version('triton-ascend')
    except metadata.PackageNotFoundError:
        return False
    return True


def npu_graph_backend() -> Backend:
    """The ``torch.compile`` backend for Ascend NPUs: torchair's graph engine, else Inductor through
    Triton-Ascend.

    Raises:
        UsageError: neither is installed (a start-up mistake: it names what to install).
    """
    if importlib.util.find_spec(TORCHAIR) is not None:
        torchair = importlib.import_module(TORCHAIR)
        return torchair.get_npu_backend(compiler_config=torchair.CompilerConfig())
    if has_triton_ascend():
        return 'inductor'
    raise UsageError(
        'compile on npu needs a graph backend: this torch-npu has no torchair (torch_npu/dynamo/torchair; '
        "install a torch-npu release from PyPI, which bundles it) and Triton-Ascend is not installed "
        "(pip install triton-ascend, for Inductor). Or name one: --cfg-options compile.backend=aot_eager.")


def resolve_backend(options: dict, device_type: str) -> dict:
    """``options`` for ``torch.compile`` with the backend for ``device_type`` filled in (see the module
    docstring); a ``backend`` given in ``options`` is kept.

    Raises:
        UsageError: no backend can compile on the device, or Inductor on the CPU of a torch older than
            :data:`CPU_INDUCTOR_MIN_TORCH`.
    """
    options = dict(options)
    if 'backend' not in options and device_type == 'npu':
        options['backend'] = npu_graph_backend()
    if (options.get('backend', 'inductor') == 'inductor' and device_type == 'cpu'
            and torch_release() < CPU_INDUCTOR_MIN_TORCH):
        minimum = '.'.join(map(str, CPU_INDUCTOR_MIN_TORCH))
        raise UsageError(
            f"compile on cpu with Inductor needs torch >= {minimum} (this is {torch.__version__}): "
            "Inductor's C++ code of torch 2.6 and 2.8 computes the SSD loss wrongly. Upgrade torch, or "
            'trace without Inductor: --cfg-options compile.backend=aot_eager.')
    return options


def backend_name(backend: Backend) -> str:
    """How a backend is shown in the log: its name, or the function's qualified name."""
    if isinstance(backend, str):
        return backend
    return f'{getattr(backend, "__module__", "")}.{getattr(backend, "__qualname__", type(backend).__name__)}'


def compile_model(model: nn.Module, options: dict) -> None:
    """Compile ``model`` (unwrapped from DDP) in place with ``options`` for ``torch.compile``, with
    the backend of the device its parameters are on unless ``options`` names one."""
    detector = getattr(model, 'module', model)
    if not hasattr(detector, 'compile_graphs'):
        raise TypeError(f'compile: {type(detector).__name__} has no static graphs to compile; '
                        'only SSD detectors support compile=True')
    device_type = next(detector.parameters()).device.type
    options = resolve_backend(options, device_type)
    detector.compile_graphs(**options)
    shown = {**options, 'backend': backend_name(options.get('backend', 'inductor'))}
    print_log(f'Compiled the normalisation, loss and prediction regions of {type(detector).__name__} with '
              f'torch.compile(fullgraph=True, dynamic=False, {shown}) for {device_type}; the first '
              'iterations of training and of testing are slow while the graphs compile.',
              logger='current', level=logging.INFO)
