"""Detect objects in one image and draw them.

    python tools/demo.py demo.jpg configs/ssd300_coco.py ssd300_coco.pth --out-file out.jpg --score-thr 0.3
"""
import argparse

import mmcv

from ssd_npu.apis import inference_detector, init_detector
from ssd_npu.visualization import DetLocalVisualizer


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('image', help='image file')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-file', default='demo_result.jpg', help='where to write the drawing')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu, cuda:0, npu:0')
    parser.add_argument('--score-thr', type=float, default=0.3, help='draw and list boxes above this score')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    model = init_detector(args.config, args.checkpoint, device=args.device)
    result = inference_detector(model, args.image)

    visualizer = DetLocalVisualizer(name='demo')
    visualizer.dataset_meta = model.dataset_meta or {}
    image = mmcv.imread(args.image, channel_order='rgb')
    visualizer.add_datasample('demo', image, result, draw_gt=False, out_file=args.out_file,
                              pred_score_thr=args.score_thr)

    classes = visualizer.dataset_meta.get('classes')
    pred = result.pred_instances.cpu()
    pred = pred[pred.scores > args.score_thr]
    for box, score, label in zip(pred.bboxes.tolist(), pred.scores.tolist(), pred.labels.tolist()):
        name = classes[label] if classes else f'class {label}'
        print(f'{name:>16s} {score:.3f}  x1={box[0]:.1f} y1={box[1]:.1f} x2={box[2]:.1f} y2={box[3]:.1f}')
    print(f'{len(pred)} detections above {args.score_thr}; drawing written to {args.out_file}')


if __name__ == '__main__':
    main()
