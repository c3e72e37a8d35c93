"""Time COCO box evaluation with each backend on a large synthetic set and compare their numbers.

    python tools/benchmarks/benchmark_coco_eval.py [--num-images 2000 --num-classes 80 --dets-per-image 100]

Ground truth: 1-15 boxes per image of random classes and sizes (all three COCO area ranges), 5%
crowd. Detections: a jittered copy of most GT boxes plus random boxes up to --dets-per-image, with
scores rounded to 3 decimals (ties). Each backend indexes the GT and runs evaluate + accumulate
(CocoMetric's path); the 12 summary numbers are printed side by side with their largest difference.
"""
import argparse
import time

import numpy as np

from ssd_npu.evaluation.functional.coco_eval import BACKENDS, build_coco_api, evaluate_coco


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--num-classes', type=int, default=80)
    parser.add_argument('--dets-per-image', type=int, default=100)
    parser.add_argument('--max-dets', type=int, nargs='+', default=[100, 300, 1000],
                        help="COCO maxDets (mmdetection's CocoMetric proposal_nums)")
    parser.add_argument('--backends', nargs='+', default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def synthetic_set(num_images: int, num_classes: int, dets_per_image: int, seed: int):
    """(COCO GT dict, list of COCO detections) on 640x480 images; boxes [x, y, w, h] pixels."""
    rng = np.random.default_rng(seed)
    images = [dict(id=i + 1, width=640, height=480, file_name=f'{i + 1:012d}.jpg') for i in range(num_images)]
    categories = [dict(id=c + 1, name=f'class_{c}') for c in range(num_classes)]
    annotations, detections = [], []
    for img in images:
        num_gt = int(rng.integers(1, 16))
        # Log-uniform sides from 4 to 400 px: small, medium and large objects all occur.
        wh = np.exp(rng.uniform(np.log(4), np.log(400), size=(num_gt, 2)))
        xy = rng.uniform(0, 1, size=(num_gt, 2)) * (np.array([640, 480]) - wh).clip(min=1)
        labels = rng.integers(1, num_classes + 1, size=num_gt)
        for box, label in zip(np.hstack([xy, wh]).tolist(), labels.tolist()):
            annotations.append(dict(id=len(annotations) + 1, image_id=img['id'], category_id=label, bbox=box,
                                    area=box[2] * box[3], iscrowd=int(rng.random() < 0.05)))
        found = rng.random(num_gt) < 0.8
        jitter = rng.normal(0, 0.1, size=(num_gt, 4)) * np.hstack([wh, wh])
        hits = np.hstack([xy, wh])[found] + jitter[found]
        hits[:, 2:] = hits[:, 2:].clip(min=1)
        num_random = max(dets_per_image - len(hits), 0)
        rand_wh = np.exp(rng.uniform(np.log(4), np.log(400), size=(num_random, 2)))
        rand_xy = rng.uniform(0, 1, size=(num_random, 2)) * (np.array([640, 480]) - rand_wh).clip(min=1)
        rand = np.hstack([rand_xy, rand_wh])
        boxes = np.vstack([hits, rand])
        det_labels = np.concatenate([labels[found], rng.integers(1, num_classes + 1, size=num_random)])
        scores = np.concatenate([rng.uniform(0.3, 1, len(hits)), rng.uniform(0, 0.7, num_random)]).round(3)
        for box, label, score in zip(boxes.tolist(), det_labels.tolist(), scores.tolist()):
            detections.append(dict(image_id=img['id'], category_id=label, bbox=box, score=score))
    return dict(images=images, annotations=annotations, categories=categories), detections


def main() -> None:
    args = parse_args()
    tic = time.perf_counter()
    gt, detections = synthetic_set(args.num_images, args.num_classes, args.dets_per_image, args.seed)
    print(f'{args.num_images} images, {args.num_classes} classes, {len(gt["annotations"])} GT boxes, '
          f'{len(detections)} detections (generated in {time.perf_counter() - tic:.1f} s); '
          f'maxDets {args.max_dets}')

    stats, seconds = {}, {}
    for backend in args.backends:
        tic = time.perf_counter()
        coco_gt = build_coco_api(gt, backend)
        result = evaluate_coco(gt, detections, backend=backend, max_dets=args.max_dets, coco_gt=coco_gt)
        seconds[backend] = time.perf_counter() - tic
        stats[backend] = result.stats

    names = list(stats[args.backends[0]])
    header = f'{"":<12}' + ''.join(f'{b:>22}' for b in args.backends)
    print(header)
    print(f'{"seconds":<12}' + ''.join(f'{seconds[b]:>22.2f}' for b in args.backends))
    for name in names:
        print(f'{name:<12}' + ''.join(f'{stats[b][name]:>22.17f}' for b in args.backends))
    if len(args.backends) > 1:
        values = np.array([[stats[b][n] for n in names] for b in args.backends])
        diff = np.abs(values - values[0]).max()
        verdict = 'identical' if diff == 0 else f'differ by at most {diff:.2e}'
        print(f'the {len(names)} numbers are {verdict}; speed-up '
              f'{seconds[args.backends[1]] / seconds[args.backends[0]]:.1f}x ({args.backends[0]} vs '
              f'{args.backends[1]})')


if __name__ == '__main__':
    main()
