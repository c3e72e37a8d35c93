"""Test-time augmentation: the detections of several views of an image, merged into one set.

mmdetection 3.x's ``DetTTAModel`` contract: ``tools/test.py --tta`` wraps the config's model as
``dict(**tta_model, module=model)``, and the test pipeline's ``TestTimeAug`` gives every image
several views (a horizontal flip, other scales). mmengine's ``BaseTTAModel.test_step`` runs the
detector on each view; :meth:`DetTTAModel.merge_preds` maps each view's boxes back onto the original
image (predictions are already rescaled to it, so only the flip is undone) and keeps the best of
the union by class-wise NMS.
"""
from typing import List, Optional

import torch
from mmengine.model import BaseTTAModel
from mmengine.structures import InstanceData
from torchvision.ops import batched_nms

from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample


def unflip_boxes(bboxes: torch.Tensor, ori_shape: tuple, direction: str) -> torch.Tensor:
    """Boxes (N, 4) xyxy in pixels of a flipped ``ori_shape`` (h, w) image, mapped onto the unflipped one."""
    height, width = ori_shape[:2]
    flipped = bboxes.clone()
    if direction in ('horizontal', 'diagonal'):
        flipped[:, 0], flipped[:, 2] = width - bboxes[:, 2], width - bboxes[:, 0]
    if direction in ('vertical', 'diagonal'):
        flipped[:, 1], flipped[:, 3] = height - bboxes[:, 3], height - bboxes[:, 1]
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise ValueError(f'DetTTAModel: unknown flip direction {direction!r}')
    return flipped


@MODELS.register_module()
class DetTTAModel(BaseTTAModel):
    """Merges the detections of an image's augmented views (mmdetection's ``DetTTAModel`` arguments).

    Args:
        module: the detector config or module (``tools/test.py --tta`` sets it).
        tta_cfg: ``nms=dict(type='nms', iou_threshold=...)`` applied class-wise to the union of the
            views' detections, and ``max_per_img`` kept after it (best score first).
        data_preprocessor: unused (each view goes through the detector's own), accepted as mmengine's.
    """

    def __init__(self, module, tta_cfg: Optional[dict] = None, data_preprocessor=None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        tta_cfg = dict(tta_cfg or {})
        nms = dict(tta_cfg.get('nms', dict(type='nms', iou_threshold=0.5)))
        if nms.get('type', 'nms') != 'nms':
            raise ValueError(f"DetTTAModel: tta_cfg.nms.type must be 'nms', got {nms['type']!r}")
        self.iou_threshold = float(nms.get('iou_threshold', 0.5))
        self.max_per_img = int(tta_cfg.get('max_per_img', 100))

    def merge_preds(self, data_samples_list: List[List[DetDataSample]]) -> List[DetDataSample]:
        """One merged sample per image, from ``data_samples_list[i]``: its views' predictions."""
        return [self._merge_views(views) for views in data_samples_list]

    def _merge_views(self, views: List[DetDataSample]) -> DetDataSample:
        boxes, scores, labels = [], [], []
        for view in views:
            predicted = view.pred_instances
            view_boxes = predicted.bboxes
            if view.metainfo.get('flip', False):
                view_boxes = unflip_boxes(view_boxes, view.metainfo['ori_shape'],
                                          view.metainfo.get('flip_direction', 'horizontal'))
            boxes.append(view_boxes)
            scores.append(predicted.scores)
            labels.append(predicted.labels)
        boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        keep = batched_nms(boxes.float(), scores.float(), labels, self.iou_threshold)[:self.max_per_img]
        merged = views[0]
        # The first view's metainfo with the flip undone: the merged boxes are on the original image.
        merged.set_metainfo(dict(flip=False, flip_direction=None))
        merged.pred_instances = InstanceData(bboxes=boxes[keep], scores=scores[keep], labels=labels[keep])
        return merged
