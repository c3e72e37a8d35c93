"""The commands of ``ssd_npu`` and of the tool scripts, one module each, each with ``main(argv, prog)``.

``train`` (``tools/train.py``), ``test`` (``tools/test.py``), ``demo`` (``tools/demo_synthetic.py``),
``infer`` (``tools/demo.py``), ``export`` (``tools/deployment/export_onnx.py``) and
``print_config`` (``tools/misc/print_config.py``). ``argv`` None means ``sys.argv[1:]``; ``prog``
names the command in usage messages (default: the script's name).
"""
