"""``compile=True`` (mmengine's config key) and ``--compile``: compile the detector's static regions.

mmengine's Runner would wrap the whole ``train_step`` in ``torch.compile``,
which takes in the optimizer wrapper, logging and Python bookkeeping and so
breaks the graph many times. SSD instead compiles what graph-mode devices
need as single static graphs: the data preprocessor's normalisation, and the
network + loss (training) or network + batched post-processing (testing);
see :meth:`ssd_npu.models.detectors.SSD.compile`.
"""
import logging
from typing import Optional

import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log


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


def compile_model(model: nn.Module, options: dict) -> None:
    """Compile ``model`` (unwrapped from DDP) in place with ``options`` for ``torch.compile``."""
    detector = getattr(model, 'module', model)
    if not hasattr(detector, 'region'):
        raise TypeError(f'compile: {type(detector).__name__} has no static regions to compile; '
                        'only SSD detectors support compile=True')
    detector.compile(**options)
    print_log(f'Compiled the normalisation, loss and prediction regions of {type(detector).__name__} with '
              f'torch.compile(fullgraph=True, dynamic=False, {options}); the first iterations of training '
              'and of testing are slow while the graphs compile.', logger='current', level=logging.INFO)
