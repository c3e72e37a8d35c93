"""Ground truth of a batch as fixed-size tensors: what the compiled loss region takes.

A graph-compiling device (Ascend graph mode, ``torch.compile``, CUDA graphs)
recompiles whenever a tensor shape changes, and the number of boxes changes
from image to image. So the boxes of a batch are padded to ``M`` per image,
where ``M`` comes from a short list of bucket sizes: one compiled graph per
bucket, and an image with more boxes than the largest bucket is never
truncated (the batch goes to a larger size, with a one-time warning).
"""
import logging
from typing import List, NamedTuple, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from .det_data_sample import DetDataSample


class PaddedGroundTruth(NamedTuple):
    """The GT boxes of a batch, padded to ``M`` per image.

    bboxes: Tensor[B, M, 4] float32, xyxy pixels of the network input (padding is zeros).
    labels: LongTensor[B, M], 0-based (padding is 0).
    valid: BoolTensor[B, M]: True for real boxes of positive width and height.
        Degenerate boxes are invalid: they overlap no prior, and a forced
        low-quality match to one would give ``log(0)`` regression targets.
    ignore_bboxes, ignore_valid: the same for ignored regions, or None.
    """

    bboxes: Tensor
    labels: Tensor
    valid: Tensor
    ignore_bboxes: Optional[Tensor] = None
    ignore_valid: Optional[Tensor] = None


class GroundTruthPadding:
    """Chooses ``M``, the padded box count of a batch.

    Args:
        sizes: for graph mode (``static``), an int ``M`` (one fixed shape, as
            the Ascend SSD port's 100), a sequence of bucket sizes (the smallest
            that holds the batch's largest image is used), or 0 (exactly the
            batch's largest count: a new shape for almost every batch).
        static: True for the padding :meth:`SSD.compile_graphs` gives the data preprocessor.
            Eagerly, nothing is gained from a fixed shape, so batches pad to the
            next power of two of their largest count (at least 8): the loss is
            the same, the assigner's IoU work is up to 12x smaller for COCO's
            typical 7 boxes per image, and there are still only a few shapes.

    In graph mode, counts above the largest bucket round up to a multiple of it
    and warn once per new size, naming the count.
    """

    def __init__(self, sizes: Union[int, Sequence[int]] = 100, static: bool = False) -> None:
        buckets = [sizes] if isinstance(sizes, int) else list(sizes)
        if not buckets or any(not isinstance(s, int) or s < 0 for s in buckets) or (0 in buckets
                                                                                    and len(buckets) > 1):
            raise ValueError(f'gt_pad_size must be an int >= 0 or a list of positive ints, got {sizes!r}')
        self.buckets = sorted(buckets)
        self.static = static
        self._warned: set = set()

    def size_for(self, max_count: int) -> int:
        """The padded size for a batch whose largest image has ``max_count`` boxes (at least 1)."""
        if self.buckets == [0]:
            return max(max_count, 1)
        if not self.static:
            return max(8, 1 << (max_count - 1).bit_length())
        for bucket in self.buckets:
            if max_count <= bucket:
                return bucket
        largest = self.buckets[-1]
        size = -(-max_count // largest) * largest
        if size not in self._warned:
            self._warned.add(size)
            print_log(f'An image has {max_count} ground-truth boxes, more than gt_pad_size {self.buckets}: '
                      f'padding such batches to {size} boxes (a new shape: graph-mode devices compile once '
                      'more). Add a larger bucket to gt_pad_size to avoid it.',
                      logger='current', level=logging.WARNING)
        return size

    def pad(self, batch_instances: Sequence[InstanceData], device: Union[str, torch.device, None] = None,
            batch_ignored: Optional[Sequence[InstanceData]] = None) -> PaddedGroundTruth:
        """Stack per-image instances into a :class:`PaddedGroundTruth`.

        Args:
            batch_instances: per image, ``bboxes`` (Tensor[N_i, 4] xyxy pixels, or a box
                object with ``.tensor``) and, optionally, ``labels`` (LongTensor[N_i]).
            device: where the tensors go (default: where the boxes are). The padding is
                done where the boxes are, then each tensor is copied once.
            batch_ignored: per image, ignored regions (``bboxes``), or None.
        """
        bboxes, labels, valid = _stack(batch_instances, self.size_for(_max_count(batch_instances)), device)
        ignore_bboxes = ignore_valid = None
        if batch_ignored is not None:
            ignore_bboxes, _, ignore_valid = _stack(batch_ignored, max(_max_count(batch_ignored), 1), device)
        return PaddedGroundTruth(bboxes, labels, valid, ignore_bboxes, ignore_valid)

    def pad_data_samples(self, data_samples: Sequence[DetDataSample],
                         device: Union[str, torch.device, None] = None,
                         with_ignored: bool = False) -> PaddedGroundTruth:
        """:meth:`pad` of the ``gt_instances`` (and ``ignored_instances``) of data samples."""
        ignored = None
        if with_ignored:
            empty = InstanceData(bboxes=torch.zeros(0, 4))
            ignored = [s.ignored_instances if 'ignored_instances' in s else empty for s in data_samples]
        return self.pad([s.gt_instances for s in data_samples], device, ignored)


def _boxes(instances: InstanceData) -> Tensor:
    boxes = instances.bboxes
    return getattr(boxes, 'tensor', boxes).reshape(-1, 4)


def _max_count(batch_instances: Sequence[InstanceData]) -> int:
    return max([len(_boxes(inst)) for inst in batch_instances] + [0])


def _stack(batch_instances: Sequence[InstanceData], size: int,
           device: Union[str, torch.device, None]) -> List[Tensor]:
    boxes = [_boxes(inst).float() for inst in batch_instances]
    labels = [inst.labels.reshape(-1).long().to(b.device) if 'labels' in inst
              else torch.zeros(len(b), dtype=torch.long, device=b.device)
              for inst, b in zip(batch_instances, boxes)]
    # A row of the target size makes pad_sequence pad every image to it; it is dropped after.
    padded_boxes = pad_sequence(boxes + [boxes[0].new_zeros(size, 4)], batch_first=True)[:-1]
    padded_labels = pad_sequence(labels + [labels[0].new_zeros(size)], batch_first=True)[:-1]
    counts = torch.tensor([len(b) for b in boxes], device=padded_boxes.device)
    valid = torch.arange(size, device=padded_boxes.device) < counts[:, None]
    valid &= (padded_boxes[..., 2:] > padded_boxes[..., :2]).all(dim=-1)
    if device is not None:
        return [t.to(device, non_blocking=True) for t in (padded_boxes, padded_labels, valid)]
    return [padded_boxes, padded_labels, valid]
