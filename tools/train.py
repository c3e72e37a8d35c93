"""Train a detector: ``python tools/train.py CONFIG [options]`` (mmdetection's flags), as
``ssd_npu train``."""
from torch_import_check import explained_import_failures  # the standard library only: runs before torch

with explained_import_failures():  # torch_npu without CANN, or a missing install: one line, not a traceback
    from ssd_npu.cli.commands.train import main

if __name__ == '__main__':
    main()
