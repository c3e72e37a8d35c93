"""The main job on a fresh machine, no download: train and evaluate on the synthetic dataset.

Generates ``data/synthetic`` unless it is there, trains ``configs/synthetic_demo.py``, evaluates
the final model (COCO mAP table), and draws its detections on a validation image; as ``ssd_npu demo``.

    python tools/demo_synthetic.py [--work-dir work_dirs/synthetic_demo] [--device cpu]
"""
from torch_import_check import explained_import_failures  # the standard library only: runs before torch

with explained_import_failures():  # torch_npu without CANN, or a missing install: one line, not a traceback
    from ssd_npu.cli.commands.demo import main, parse_args  # noqa: F401  (parse_args: the flags)

if __name__ == '__main__':
    main()
