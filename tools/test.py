"""Evaluate a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]`` (mmdetection's flags), as
``ssd_npu test``."""
from torch_import_check import explained_import_failures  # the standard library only: runs before torch

with explained_import_failures():  # torch_npu without CANN, or a missing install: one line, not a traceback
    from ssd_npu.cli.commands.test import main

if __name__ == '__main__':
    main()
