"""Count a model's parameters and the FLOPs of one forward pass (backbone, neck and head outputs).

    python tools/analysis_tools/get_flops.py configs/ssd300_coco.py [--shape 300 300]

FLOPs count one multiply-add as one FLOP (mmengine's / fvcore's convention, the one papers use
for detectors); post-processing (decoding, NMS) is not counted.
"""
import argparse
from typing import List, Optional

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.analysis.print_helper import _format_size
from mmengine.config import Config, DictAction

from ssd_npu.config import load_config
from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config with a model')
    parser.add_argument('--shape', type=int, nargs='+', default=[300, 300],
                        help='input height and width (one number: square)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings, key=value (e.g. model.bbox_head.num_classes=20)')
    return parser.parse_args(argv)


def model_complexity(cfg: Config, height: int, width: int) -> dict:
    """``flops`` and ``params`` (ints) of ``cfg.model`` on one (1, 3, height, width) input.

    Pretrained ``init_cfg`` weights are not loaded (the count does not depend on them).
    """
    register_all_modules()
    model = MODELS.build(cfg.model)
    model.eval()
    inputs = torch.zeros(1, 3, height, width)
    with torch.no_grad():
        # One plain forward first: it validates the input size with a clear error and builds any
        # state a model computes lazily, which cannot run inside the jit tracer the counter uses.
        model(inputs)
        info = get_model_complexity_info(model, inputs=(inputs,), show_table=False, show_arch=False)
    return dict(flops=int(info['flops']), params=int(info['params']))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    height, width = (args.shape * 2)[:2] if len(args.shape) == 1 else args.shape[:2]
    cfg = load_config(args.config, args.cfg_options)
    result = model_complexity(cfg, height, width)
    line = '=' * 30
    print(f'{line}\nInput shape: (1, 3, {height}, {width})\nFlops: {_format_size(result["flops"])}\n'
          f'Params: {_format_size(result["params"])}\n{line}')
    print('FLOPs are multiply-adds of the network outputs; decoding and NMS are not counted.')


if __name__ == '__main__':
    main()
