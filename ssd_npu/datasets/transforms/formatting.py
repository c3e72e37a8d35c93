"""Packing the pipeline's ``results`` into the model's input contract."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from ssd_npu.registry import TRANSFORMS
from ssd_npu.structures import DetDataSample

# results key -> InstanceData field.
_INSTANCE_FIELDS = (('gt_bboxes', 'bboxes', torch.float32), ('gt_bboxes_labels', 'labels', torch.int64))


@TRANSFORMS.register_module()
class PackDetInputs(BaseTransform):
    """Pack an image and its annotations as ``dict(inputs, data_samples)`` (mmdetection's contract).

    - ``inputs``: Tensor[3, H, W], the image's dtype (uint8 for the test pipelines, float32 after
      ``PhotoMetricDistortion``'s default arithmetic in training), BGR.
    - ``data_samples``: :class:`~ssd_npu.structures.DetDataSample` whose ``gt_instances`` hold
      ``bboxes`` (FloatTensor[N, 4], xyxy pixels of ``inputs``) and ``labels`` (LongTensor[N])
      of the boxes with ``gt_ignore_flags == False``; ``ignored_instances`` hold the others
      (crowd / difficult). Both are always set, possibly with zero rows.
    - metainfo: each key of ``meta_keys`` present in ``results``.

    Args:
        meta_keys: the ``results`` keys copied into the data sample's metainfo.
    """

    def __init__(self, meta_keys: Sequence[str] = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                                                   'scale_factor', 'flip', 'flip_direction')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        packed = {}
        if 'img' in results:
            img = results['img']
            if img.ndim == 2:
                img = img[..., None]
            # One copy either way: a contiguous HWC array is viewed as a tensor and permuted by
            # torch; a strided view (e.g. an uncopied crop) is transposed by numpy first.
            if img.flags.c_contiguous:
                packed['inputs'] = torch.from_numpy(img).permute(2, 0, 1).contiguous()
            else:
                packed['inputs'] = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))

        ignore = results.get('gt_ignore_flags')
        gt, ignored = InstanceData(), InstanceData()
        for key, field, dtype in _INSTANCE_FIELDS:
            if key not in results:
                continue
            values = torch.as_tensor(np.asarray(results[key]), dtype=dtype)
            if key == 'gt_bboxes':
                values = values.reshape(-1, 4)
            if ignore is None:
                gt[field] = values
            else:
                keep = torch.from_numpy(~np.asarray(ignore, dtype=bool))
                gt[field] = values[keep]
                ignored[field] = values[~keep]

        data_sample = DetDataSample()
        data_sample.gt_instances = gt
        data_sample.ignored_instances = ignored
        data_sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        packed['data_samples'] = data_sample
        return packed

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
