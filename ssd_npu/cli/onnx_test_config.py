"""``tools/test.py CONFIG model.onnx``: evaluate an exported model with the config's test loop."""
import argparse

from mmengine.config import Config

from .config_from_flags import setup_test_config


def setup_onnx_test_config(cfg: Config, args: argparse.Namespace) -> Config:
    """:func:`setup_test_config` with the model replaced by the ONNX file ``args.checkpoint``.

    The dataset, pipeline, evaluator and visualisation stay the config's; the network and its
    post-processing are the file's, run by onnxruntime (one process: ``--launcher none``).
    """
    if args.launcher != 'none':
        raise ValueError('tools/test.py: an ONNX model is evaluated in one process (--launcher none)')
    cfg = setup_test_config(cfg, args)
    onnx_model = dict(type='ONNXDetector', onnx_file=args.checkpoint)
    # --tta: the views run through the file, merged by the config's tta_model.
    cfg.model = dict(cfg.model, module=onnx_model) if getattr(args, 'tta', False) else onnx_model
    cfg.load_from = None
    return cfg
