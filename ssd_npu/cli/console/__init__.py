"""The ``ssd_npu`` command's entry point, importable before torch.

Installed twice over: as ``ssd_npu.cli.console`` in a checkout, and as the top-level package
``ssd_npu_console`` (setup.py maps it onto this folder), which the console script imports. Importing
the top-level one runs no ``ssd_npu/__init__.py``, so nothing here imports torch before
:func:`~.torch_import_check.explained_import_failures` is in place: a torch_npu that cannot load,
or a missing dependency, is one explained line and exit status 1, as for ``tools/train.py``.
Only the standard library is imported here; the commands live in :mod:`ssd_npu.cli.main`.
"""
import sys
from typing import List, Optional

from .torch_import_check import explained_import_failures


def main(argv: Optional[List[str]] = None) -> None:
    """``ssd_npu COMMAND [flags]``: the command's flags are those of its tool script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with explained_import_failures():  # import torch, ssd_npu and the command's module
        from ssd_npu.cli.main import load_command

        command, command_argv = load_command(argv)
    command(command_argv)
