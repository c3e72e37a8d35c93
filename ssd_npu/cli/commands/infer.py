"""Detect objects in an image, a folder, a glob, a video file or a camera, and draw them.

    ssd_npu infer demo.jpg ssd300_coco.py ssd300_coco.pth --out-file out.jpg --score-thr 0.3
    python tools/demo.py demo.jpg configs/ssd300_coco.py ssd300_coco.pth --out-file out.jpg
    python tools/demo.py images/ configs/ssd300_coco.py ssd300_coco.pth --out-dir outputs --batch-size 8
    python tools/demo.py 'images/*.jpg' configs/ssd300_coco.py ssd300_coco.onnx --out-dir outputs
    python tools/demo.py traffic.mp4 configs/ssd300_coco.py ssd300_coco.pth --out-dir outputs
    python tools/demo.py 0 configs/ssd300_coco.py ssd300_coco.pth --show       # camera 0

One image without --out-dir: the drawing goes to --out-file (default demo_result.jpg) and the
detections are listed. Otherwise, as mmdetection's DetInferencer: OUT_DIR/vis/<image> and
OUT_DIR/preds/<image stem>.json (labels, scores, bboxes xyxy in original pixels); for a video or a
camera, OUT_DIR/vis/<name>.mp4 (every frame drawn, same size and frame rate) and
OUT_DIR/preds/<name>.json (one entry per frame).
"""
import argparse
from pathlib import Path
from typing import List, Optional

from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.cli.packaged_configs import resolve_config
from ssd_npu.errors import UsageError


def parse_args(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input', help='image file, folder, glob pattern, video file, or camera index')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file, or an exported .onnx file')
    parser.add_argument('--out-dir', help='write vis/ and preds/ here (default: outputs)')
    parser.add_argument('--out-file', help='one image: where to write the drawing (default demo_result.jpg)')
    parser.add_argument('--batch-size', type=int, default=1, help='images or frames per forward pass')
    parser.add_argument('--score-thr', '--pred-score-thr', dest='score_thr', type=float, default=0.3,
                        help='draw and list boxes above this score')
    parser.add_argument('--show', action='store_true', help='show the drawings in a window')
    parser.add_argument('--no-save-vis', action='store_true', help='do not write OUT_DIR/vis')
    parser.add_argument('--no-save-pred', action='store_true', help='do not write OUT_DIR/preds')
    parser.add_argument('--max-frames', type=int, help='video or camera: stop after this many frames')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu, cuda:0, npu:0')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    args = parse_args(argv, prog)
    with friendly_errors():
        from ssd_npu.apis import DetInferencer, detect_and_draw, detect_video, is_video_source, list_images
        from ssd_npu.apis.video_inference import camera_index

        config = resolve_config(args.config)
        if args.batch_size < 1:
            raise UsageError(f'--batch-size must be >= 1, got {args.batch_size}')
        video = is_video_source(args.input)
        one_image = not video and Path(args.input).is_file()
        if args.out_file and not one_image:
            raise UsageError(f'--out-file is for one image; {args.input} is not one: use --out-dir')
        if video and camera_index(args.input) is None and not Path(args.input).is_file():
            raise UsageError(f'video file not found: {args.input}')
        try:
            images = None if video else list_images(args.input)
        except FileNotFoundError as error:
            raise UsageError(str(error)) from None
        inferencer = DetInferencer(config, args.checkpoint, device=args.device)
        if one_image and args.out_dir is None:
            out_file = args.out_file or 'demo_result.jpg'
            _, lines = detect_and_draw(inferencer.model, args.input, out_file, score_thr=args.score_thr)
            print('\n'.join(lines))
            print(f'{len(lines)} detections above {args.score_thr}; drawing written to {out_file}')
            return
        out_dir = args.out_dir or 'outputs'
        if video:
            try:
                done = detect_video(inferencer, args.input, out_dir, args.batch_size, args.score_thr,
                                    args.show, args.no_save_vis, args.no_save_pred, args.max_frames)
            except FileNotFoundError as error:
                raise UsageError(str(error)) from None
            print(f'{done["frames"]} frames at {done["images_per_second"]:.1f} img/s; '
                  f'video: {done["video"]}; predictions: {done["predictions"]}')
            return
        inferencer(args.input, batch_size=args.batch_size, out_dir=out_dir, pred_score_thr=args.score_thr,
                   show=args.show, no_save_vis=args.no_save_vis, no_save_pred=args.no_save_pred)
        outputs = (('drawings', 'vis', args.no_save_vis), ('predictions', 'preds', args.no_save_pred))
        written = [f'{what} in {Path(out_dir) / folder}' for what, folder, off in outputs if not off]
        print(f'{len(images)} images at {inferencer.images_per_second:.1f} img/s'
              + ''.join(f'; {line}' for line in written))
