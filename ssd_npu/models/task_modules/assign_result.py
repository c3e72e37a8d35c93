"""``AssignResult``: mmdetection 3.x's record of which prior matched which ground-truth box."""
from typing import Any, Dict, Optional

from torch import Tensor


class AssignResult:
    """Assignment of ``num_preds`` priors to ``num_gts`` ground-truth boxes (one image).

    Attributes:
        num_gts: number of GT boxes the assignment considered.
        gt_inds: LongTensor[num_preds]: 0 negative, -1 ignored, k + 1 matched to GT k.
        max_overlaps: Tensor[num_preds]: each prior's IoU with its best GT.
        labels: LongTensor[num_preds]: the matched GT's label, -1 for unmatched priors.
    """

    def __init__(self, num_gts: int, gt_inds: Tensor, max_overlaps: Tensor,
                 labels: Optional[Tensor]) -> None:
        self.num_gts = num_gts
        self.gt_inds = gt_inds
        self.max_overlaps = max_overlaps
        self.labels = labels
        self._extra_properties: Dict[str, Any] = {}

    @property
    def num_preds(self) -> int:
        """Number of priors assigned."""
        return len(self.gt_inds)

    def set_extra_property(self, key: str, value: Any) -> None:
        if key in self.info:
            raise KeyError(f'AssignResult: property {key!r} already exists')
        self._extra_properties[key] = value

    def get_extra_property(self, key: str) -> Any:
        return self._extra_properties.get(key)

    @property
    def info(self) -> Dict[str, Any]:
        """Every attribute by name, the extra properties included."""
        return dict(num_gts=self.num_gts, num_preds=self.num_preds, gt_inds=self.gt_inds,
                    max_overlaps=self.max_overlaps, labels=self.labels, **self._extra_properties)

    def __repr__(self) -> str:
        shapes = ', '.join(f'{name}.shape={tuple(value.shape)}' if value is not None else f'{name}=None'
                           for name, value in (('gt_inds', self.gt_inds), ('max_overlaps', self.max_overlaps),
                                               ('labels', self.labels)))
        return f'<AssignResult(num_gts={self.num_gts}, {shapes})>'
