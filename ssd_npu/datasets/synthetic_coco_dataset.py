"""The embedded synthetic shapes dataset, generated on first use."""
from typing import Optional

from ssd_npu.registry import DATASETS

from .coco import CocoDataset
from .synthetic import CLASSES, ensure_synthetic_coco


@DATASETS.register_module()
class SyntheticCocoDataset(CocoDataset):
    """:class:`CocoDataset` over ``data_root`` that first generates the synthetic dataset there
    unless it is already complete (see :func:`ensure_synthetic_coco`).

    So ``configs/synthetic_demo.py`` trains on a fresh machine with no separate download or
    generation step, from one process or many (concurrent generation is safe: the first complete
    copy wins).

    Args:
        generator: arguments of :func:`~ssd_npu.datasets.generate_synthetic_coco`
            (``num_train``, ``num_val``, ``seed``, ``width`` ...); defaults when omitted.
    """

    METAINFO = dict(classes=CLASSES,
                    palette=[(220, 20, 60), (0, 0, 230), (0, 160, 60)])

    def __init__(self, *args, generator: Optional[dict] = None, **kwargs) -> None:
        self.generator = dict(generator or {})
        super().__init__(*args, **kwargs)

    def full_init(self) -> None:
        # Before the parse (or the annotation cache, which is keyed by the generated file).
        if not self._fully_initialized:
            ensure_synthetic_coco(self.data_root, **self.generator)
        super().full_init()
