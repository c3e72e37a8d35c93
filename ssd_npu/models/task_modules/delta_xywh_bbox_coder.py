"""Box <-> regression-delta coding of R-CNN / SSD (mmdetection's ``DeltaXYWHBBoxCoder``)."""
import math
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from ssd_npu.errors import InvalidArgumentError
from ssd_npu.registry import TASK_UTILS


@TASK_UTILS.register_module()
class DeltaXYWHBBoxCoder:
    """Encode a box relative to a prior as (dx, dy, dw, dh) and back.

    ``dx = (gx - px) / pw``, ``dw = log(gw / pw)`` (Girshick et al. 2014,
    appendix C), then normalised: ``(delta - mean) / std``. SSD uses
    stds (0.1, 0.1, 0.2, 0.2), the "variances" of the original Caffe code.

    Args:
        target_means, target_stds: per-coordinate normalisation of the deltas.
        clip_border: in :meth:`decode`, clip boxes to ``max_shape`` when given.
        add_ctr_clamp: in :meth:`decode`, limit the centre shift to
            ``ctr_clamp`` pixels (YOLOF's option) and clamp only dw/dh's upper end.
        ctr_clamp: that limit, in pixels.
    """

    encode_size = 4

    def __init__(self,
                 target_means: Sequence[float] = (0., 0., 0., 0.),
                 target_stds: Sequence[float] = (1., 1., 1., 1.),
                 clip_border: bool = True,
                 add_ctr_clamp: bool = False,
                 ctr_clamp: int = 32) -> None:
        if len(target_means) != 4 or len(target_stds) != 4:
            raise ValueError(f'DeltaXYWHBBoxCoder: target_means and target_stds need 4 values each, '
                             f'got {list(target_means)} and {list(target_stds)}')
        self.means = tuple(float(m) for m in target_means)
        self.stds = tuple(float(s) for s in target_stds)
        self.clip_border = clip_border
        self.add_ctr_clamp = add_ctr_clamp
        self.ctr_clamp = ctr_clamp

    def encode(self, bboxes: Tensor, gt_bboxes: Tensor) -> Tensor:
        """Deltas that move ``bboxes`` onto ``gt_bboxes``, computed in float32.

        Args:
            bboxes: Tensor[..., 4], the priors, xyxy pixels.
            gt_bboxes: Tensor[..., 4], the targets, xyxy pixels; broadcasts with ``bboxes``.

        Returns:
            Tensor[..., 4] float32: normalised (dx, dy, dw, dh).
        """
        bboxes, gt_bboxes = torch.broadcast_tensors(bboxes.float(), gt_bboxes.float())
        pw = bboxes[..., 2] - bboxes[..., 0]
        ph = bboxes[..., 3] - bboxes[..., 1]
        px = (bboxes[..., 0] + bboxes[..., 2]) * 0.5
        py = (bboxes[..., 1] + bboxes[..., 3]) * 0.5
        gw = gt_bboxes[..., 2] - gt_bboxes[..., 0]
        gh = gt_bboxes[..., 3] - gt_bboxes[..., 1]
        gx = (gt_bboxes[..., 0] + gt_bboxes[..., 2]) * 0.5
        gy = (gt_bboxes[..., 1] + gt_bboxes[..., 3]) * 0.5
        deltas = [(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw), torch.log(gh / ph)]
        # Per coordinate with Python numbers (not a 4-vector): graph compilers fold them as constants.
        return torch.stack([(d - m) / s for d, m, s in zip(deltas, self.means, self.stds)], dim=-1)

    def decode(self, bboxes: Tensor, pred_bboxes: Tensor,
               max_shape: Optional[Union[Sequence[int], Sequence[Sequence[int]], Tensor]] = None,
               wh_ratio_clip: float = 16 / 1000) -> Tensor:
        """Apply predicted deltas to ``bboxes``.

        Args:
            bboxes: Tensor[..., 4], the priors, xyxy pixels.
            pred_bboxes: Tensor[..., 4], normalised deltas; broadcasts with ``bboxes``.
            max_shape: the (h, w[, c]) to clip to, as mmdetection takes it: one shape
                (a tuple or a Tensor[2 or 3]) for every box, or, for ``pred_bboxes`` of
                shape [B, N, 4], one shape per image (a list of B tuples or a Tensor[B, 2 or 3]).
            wh_ratio_clip: dw, dh are clamped to ``±|log(wh_ratio_clip)|``
                (a box grows or shrinks at most 62.5x), which keeps ``exp`` finite.

        Returns:
            Tensor[..., 4]: boxes, xyxy pixels, in ``pred_bboxes``' dtype.
        """
        if pred_bboxes.size(-1) != 4:
            # mmdetection also decodes class-specific deltas, (N, num_classes * 4); SSD has none.
            raise InvalidArgumentError(f'DeltaXYWHBBoxCoder.decode: pred_bboxes must end in 4 values, got '
                                       f'shape {tuple(pred_bboxes.shape)} (class-specific deltas are not '
                                       'supported)')
        deltas = torch.stack([pred_bboxes[..., i] * std + mean
                              for i, (mean, std) in enumerate(zip(self.means, self.stds))], dim=-1)
        bboxes = bboxes.to(deltas.dtype)
        pxy = (bboxes[..., :2] + bboxes[..., 2:]) * 0.5
        pwh = bboxes[..., 2:] - bboxes[..., :2]
        dxy_wh = pwh * deltas[..., :2]
        max_ratio = abs(math.log(wh_ratio_clip))
        if self.add_ctr_clamp:
            dxy_wh = dxy_wh.clamp(min=-self.ctr_clamp, max=self.ctr_clamp)
            dwh = deltas[..., 2:].clamp(max=max_ratio)
        else:
            dwh = deltas[..., 2:].clamp(min=-max_ratio, max=max_ratio)
        gxy = pxy + dxy_wh
        gwh = pwh * dwh.exp()
        decoded = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], dim=-1)
        if self.clip_border and max_shape is not None:
            decoded = self._clip(decoded, max_shape)
        return decoded

    @staticmethod
    def _clip(boxes: Tensor, max_shape: Union[Sequence[int], Sequence[Sequence[int]], Tensor]) -> Tensor:
        """Clamp xyxy ``boxes`` to [0, w] x [0, h] of one shape or of each image's."""
        hw = torch.as_tensor(max_shape, device=boxes.device)[..., :2].to(boxes.dtype)
        if hw.dim() == 2 and (boxes.dim() != 3 or hw.size(0) != boxes.size(0)):
            raise InvalidArgumentError(
                f'DeltaXYWHBBoxCoder.decode: max_shape has {hw.size(0)} per-image shapes for boxes of '
                f'shape {tuple(boxes.shape)}; per-image shapes need boxes [B, N, 4] with the same B')
        max_xyxy = torch.cat([hw.flip(-1), hw.flip(-1)], dim=-1).unsqueeze(-2)
        return torch.minimum(boxes.clamp(min=0), max_xyxy)
