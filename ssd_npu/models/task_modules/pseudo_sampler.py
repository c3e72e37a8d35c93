"""``PseudoSampler``: the name mmdetection configs give to "no sampling" (``train_cfg.sampler``)."""
from ssd_npu.registry import TASK_UTILS


@TASK_UTILS.register_module()
class PseudoSampler:
    """Marker meaning "train on every anchor; do not subsample".

    In mmdetection it turns assignment results into index lists. SSD needs
    none of that: :class:`~ssd_npu.models.dense_heads.SSDHead` uses every
    assigned anchor and picks negatives by hard-negative mining, with masks.
    The head accepts only this sampler, so mmdetection SSD configs that name
    it build unchanged and a config asking for real sampling fails loudly.
    """
