"""mmdetection 3.3's side of ``compare_with_mmdet.py``: run in mmdetection's own venv, never with ssd_npu.

    <mmdet venv>/bin/python tools/benchmarks/mmdet_peer.py TASK INPUTS.pt --shim-dir ../shared/peers
        [--config CONFIG] [--iters N]

Loads the inputs ``compare_with_mmdet.py`` saved (plain tensors), times mmdetection's code on them
and prints one JSON object: ``{"ms": median milliseconds per iteration, ...}``.
"""
import argparse
import json
import sys
from pathlib import Path

import torch
from head_inputs import median_ms  # this folder; imports only torch


def build_model(config: str):
    from mmdet.registry import MODELS
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None   # offline: random weights, as ours
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.bbox_head.loss_cls = None      # mmdet 3.3 SSDHead.predict needs the attribute (upstream bug)
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('task', choices=['head_loss', 'postprocess', 'train'])
    parser.add_argument('inputs')
    parser.add_argument('--shim-dir', required=True, help='folder of mmdet_shim.py (mmdet on mmcv-lite)')
    parser.add_argument('--config', help='mmdetection config (default: its ssd300_coco.py)')
    parser.add_argument('--iters', type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, args.shim_dir)
    import mmdet_shim  # noqa: F401
    from mmdet.structures import DetDataSample
    from mmdet.utils import register_all_modules
    from mmengine.optim import OptimWrapper
    from mmengine.structures import InstanceData
    register_all_modules()
    config = args.config or str(Path(__import__('mmdet').__file__).parent / '.mim/configs/ssd/ssd300_coco.py')
    inputs = torch.load(args.inputs, weights_only=True)
    model = build_model(config)
    gts = [InstanceData(bboxes=b, labels=lab) for b, lab in zip(inputs['boxes'], inputs['labels'])]
    metas = inputs['metas']

    if args.task == 'head_loss':
        head = model.bbox_head
        cls = [c.requires_grad_() for c in inputs['cls_scores']]
        reg = [r.requires_grad_() for r in inputs['bbox_preds']]

        def step() -> None:
            losses = head.loss_by_feat(cls, reg, gts, metas)
            sum(sum(v) for v in losses.values()).backward()
    elif args.task == 'postprocess':
        head = model.bbox_head.eval()

        @torch.no_grad()
        def step() -> None:
            step.result = head.predict_by_feat(inputs['cls_scores'], inputs['bbox_preds'],
                                               batch_img_metas=metas, rescale=True)
    else:
        samples = []
        for meta, gt in zip(metas, gts):
            sample = DetDataSample(metainfo=meta)
            sample.gt_instances = gt
            samples.append(sample)
        data = dict(inputs=list(inputs['images']), data_samples=samples)
        model.train()
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4))

        def step() -> None:
            model.train_step(data, optim)
    ms = median_ms(step, args.iters)
    extra = {}
    if args.task == 'postprocess':
        extra['detections_per_image'] = [len(r) for r in step.result]
    print(json.dumps(dict(ms=ms, threads=torch.get_num_threads(), **extra)))


if __name__ == '__main__':
    main()
