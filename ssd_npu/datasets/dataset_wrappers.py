"""mmengine's dataset wrappers with per-sample seeding from the index the sampler gives.

The sampler's index is the one that makes a sample unique within an epoch: ``RepeatDataset``
maps indices ``i`` and ``i + len(dataset)`` to the same image, which must still be augmented
differently. So the outermost dataset seeds (see :mod:`.sample_seeding`), and the datasets it
wraps keep that seeding. Type names, arguments and behaviour are otherwise mmengine's.
"""
from mmengine.dataset import ClassBalancedDataset as _ClassBalancedDataset
from mmengine.dataset import ConcatDataset as _ConcatDataset
from mmengine.dataset import RepeatDataset as _RepeatDataset

from ssd_npu.registry import DATASETS

from .sample_seeding import PerSampleSeedMixin


@DATASETS.register_module()
class RepeatDataset(PerSampleSeedMixin, _RepeatDataset):
    """mmengine's ``RepeatDataset``; each of the ``times`` passes is augmented anew."""


@DATASETS.register_module()
class ConcatDataset(PerSampleSeedMixin, _ConcatDataset):
    """mmengine's ``ConcatDataset``, seeding each sample from its index in the concatenation."""


@DATASETS.register_module()
class ClassBalancedDataset(PerSampleSeedMixin, _ClassBalancedDataset):
    """mmengine's ``ClassBalancedDataset``; each repeat of an image is augmented anew."""
