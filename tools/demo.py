"""Detect objects in one image and draw them, as ``ssd_npu infer``.

    python tools/demo.py demo.jpg configs/ssd300_coco.py ssd300_coco.pth --out-file out.jpg --score-thr 0.3
"""
from torch_import_check import explained_import_failures  # the standard library only: runs before torch

with explained_import_failures():  # torch_npu without CANN, or a missing install: one line, not a traceback
    from ssd_npu.cli.commands.infer import main, parse_args  # noqa: F401  (parse_args: the flags)

if __name__ == '__main__':
    main()
