"""Detect objects in one image and draw them: the core of ``tools/demo.py`` and the synthetic demo."""
from typing import List, Tuple

import mmcv
import torch.nn as nn

from ssd_npu.structures import DetDataSample
from ssd_npu.visualization import DetLocalVisualizer

from .inference import inference_detector


def detect_and_draw(model: nn.Module, image_path: str, out_file: str,
                    score_thr: float = 0.3) -> Tuple[DetDataSample, List[str]]:
    """Run ``model`` on ``image_path``, write the picture with boxes, class names and scores.

    Args:
        model: a detector from :func:`~ssd_npu.apis.init_detector`.
        image_path: the image file.
        out_file: where the drawing goes (the format follows the extension).
        score_thr: detections below this score are neither drawn nor listed.

    Returns:
        The prediction and one line per drawn detection
        (``name score x1 y1 x2 y2``, original-image pixels).
    """
    result = inference_detector(model, image_path)
    visualizer = DetLocalVisualizer(name='detect_and_draw')
    visualizer.dataset_meta = model.dataset_meta or {}
    image = mmcv.imread(image_path, channel_order='rgb')
    visualizer.add_datasample('detections', image, result, draw_gt=False, out_file=out_file,
                              pred_score_thr=score_thr)

    classes = visualizer.dataset_meta.get('classes')
    pred = result.pred_instances.cpu()
    pred = pred[pred.scores > score_thr]
    lines = []
    for box, score, label in zip(pred.bboxes.tolist(), pred.scores.tolist(), pred.labels.tolist()):
        name = classes[label] if classes else f'class {label}'
        x1, y1, x2, y2 = box
        lines.append(f'{name:>16s} {score:.3f}  x1={x1:.1f} y1={y1:.1f} x2={x2:.1f} y2={y2:.1f}')
    return result, lines
