"""What every detection dataset shares: filtering, palettes, and counting skipped samples."""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.logging import print_log

from ssd_npu.registry import DATASETS

from .annotation_cache import AnnotationCache, default_cache_dir, load_plain, open_cache
from .bad_samples import SharedCounter
from .sample_seeding import PerSampleSeedMixin


@DATASETS.register_module()
class BaseDetDataset(PerSampleSeedMixin, BaseDataset):
    """mmengine's :class:`~mmengine.dataset.BaseDataset` with the detection data contract.

    Each data info is ``dict(img_path, img_id, height, width, instances)`` with
    ``instances = [dict(bbox=[x1, y1, x2, y2] (pixels), bbox_label=int (0-based),
    ignore_flag=0 | 1)]``.

    Bad data: subclasses drop or clip broken boxes while parsing (the counts per reason are in
    :attr:`parse_problems`); a sample whose pipeline returns None (an unreadable image, see
    ``LoadImageFromFile``) is replaced by another random sample in training, as mmengine does,
    and counted in :attr:`skipped_samples`, which dataloader workers share with the main
    process. In test mode such a sample raises, since evaluation cannot skip an image.

    Start-up: a subclass whose parse reads the annotation file only (``cached_attributes`` set)
    parses it once per machine and maps the result in every process (``ann_cache``, see
    :mod:`.annotation_cache`).

    Randomness: once :attr:`sample_seed` is set (``EpochSeedHook`` does, in training), sample
    ``idx`` is processed with the RNGs seeded from (seed, epoch, idx), see
    :mod:`.sample_seeding`.

    Args:
        backend_args: file backend arguments of mmengine's fileio, for the annotation file.
        filter_cfg: ``dict(filter_empty_gt=bool, min_size=int)``: in training, drop images
            without instances (ignored ones count as instances, as in mmdetection) and images
            whose shorter side is below ``min_size`` pixels.
        ann_cache: True: keep parses in the machine's annotation cache
            (``$SSD_NPU_CACHE_DIR/annotations``, default ``~/.cache/ssd_npu/annotations``); a
            folder: keep them there; False: parse in every process, as mmengine does.
        **kwargs: the arguments of :class:`mmengine.dataset.BaseDataset` (``ann_file``,
            ``metainfo``, ``data_root``, ``data_prefix``, ``pipeline``, ``test_mode``,
            ``lazy_init``, ``max_refetch``, ...).
    """

    # The attributes ``load_data_list`` sets besides the infos, kept with a cached parse; None:
    # the parse reads more than the annotation file and is not cached.
    cached_attributes: Optional[Tuple[str, ...]] = None

    def __init__(self, *args, backend_args: Optional[dict] = None,
                 ann_cache: Union[bool, str] = True, **kwargs) -> None:
        self.backend_args = backend_args
        self.ann_cache = ann_cache
        self.skipped_samples = SharedCounter()
        self.parse_problems: dict = {}
        self._annotation_cache: Optional[AnnotationCache] = None
        super().__init__(*args, **kwargs)

    def full_init(self) -> None:
        """mmengine's ``full_init`` (parse, filter, subset, serialize), run by one process per
        machine when the parse is cacheable; every process maps the serialized result."""
        if self._fully_initialized:
            return
        cache = self._open_annotation_cache()
        if cache is None:
            super().full_init()
            return
        with cache.locked():
            if cache.exists():
                print_log(f'{self.ann_file}: parsed annotations read from {cache.path}',
                          logger='current', level=logging.INFO)
            else:
                super().full_init()
                extras = {name: getattr(self, name) for name in self.cached_attributes}
                if not cache.store(self.data_bytes, self.data_address, extras):
                    return
            self.data_bytes, self.data_address, extras = cache.load()
        for name, value in extras.items():
            setattr(self, name, value)
        self._annotation_cache = cache
        self._fully_initialized = True

    def get_subset(self, indices: Union[Sequence[int], int]) -> 'BaseDetDataset':
        """mmengine's ``get_subset``; the subset owns a copy of its infos, not the cache entry."""
        subset = super().get_subset(indices)
        subset._annotation_cache = None
        return subset

    def _open_annotation_cache(self) -> Optional[AnnotationCache]:
        if not (self.ann_cache and self.cached_attributes is not None and self.serialize_data
                and self.backend_args is None):
            return None
        folder = self.ann_cache if isinstance(self.ann_cache, str) else default_cache_dir()
        arguments = dict(metainfo=self._metainfo, data_root=self.data_root,
                         data_prefix=self.data_prefix, filter_cfg=self.filter_cfg,
                         test_mode=self.test_mode, indices=self._indices)
        return open_cache(folder, self.ann_file, type(self), arguments)

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """Sample ``idx``'s data info; from a cached parse, read as plain data only."""
        if self._annotation_cache is None:
            return super().get_data_info(idx)
        if idx < 0:
            idx += len(self)
        start = 0 if idx == 0 else int(self.data_address[idx - 1])
        info = load_plain(memoryview(self.data_bytes[start:int(self.data_address[idx])]))
        info['sample_idx'] = idx
        return info

    def __getstate__(self) -> dict:
        # A spawned dataloader worker maps the cache entry again instead of receiving a copy.
        state = self.__dict__.copy()
        if self._annotation_cache is not None:
            state.pop('data_bytes')
            state.pop('data_address')
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._annotation_cache is not None:
            self.data_bytes, self.data_address, _ = self._annotation_cache.load()

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        """Merge ``METAINFO`` with the ``metainfo`` argument; give custom classes a palette.

        A config that names a class subset (``metainfo=dict(classes=(...))``) keeps the
        default colour of each default class it names; other names get fixed colours.
        """
        merged = super()._load_metainfo(metainfo)
        classes = merged.get('classes')
        palette = merged.get('palette')
        if classes is not None and (palette is None or len(palette) != len(classes)):
            merged['palette'] = cls._palette_for(tuple(classes))
        return merged

    @classmethod
    def _palette_for(cls, classes: Sequence[str]) -> List[Tuple[int, int, int]]:
        defaults = dict(zip(cls.METAINFO.get('classes', ()), cls.METAINFO.get('palette', ())))
        rng = np.random.RandomState(42)
        generated = [tuple(int(c) for c in rng.randint(0, 256, 3)) for _ in classes]
        return [tuple(defaults.get(name, colour)) for name, colour in zip(classes, generated)]

    def filter_data(self) -> List[dict]:
        """Apply ``filter_cfg`` in training (test mode keeps every image), logging what it drops."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept, empty, small = [], 0, 0
        for info in self.data_list:
            if filter_empty_gt and not info['instances']:
                empty += 1
            elif min(info['width'], info['height']) < min_size:
                small += 1
            else:
                kept.append(info)
        if empty or small:
            print_log(f'{self.ann_file}: kept {len(kept)} of {len(self.data_list)} images '
                      f'({empty} without annotations, {small} with a side below {min_size} px '
                      'filtered out by filter_cfg)', logger='current', level=logging.INFO)
        return kept

    def prepare_data(self, idx: int) -> Optional[dict]:
        """Run the pipeline on sample ``idx``; count the sample when the pipeline rejects it."""
        data = super().prepare_data(idx)
        if data is None:
            if self.test_mode:
                raise RuntimeError(
                    f'{self.get_data_info(idx)["img_path"]}: the test pipeline could not '
                    'process this image (the warning above says why); evaluation needs every '
                    'image, so repair the file or remove it from the annotation file')
            self.skipped_samples.increment()
        return data

    def get_cat_ids(self, idx: int) -> List[int]:
        """The 0-based labels of sample ``idx`` (used by ``ClassBalancedDataset``)."""
        return [instance['bbox_label'] for instance in self.get_data_info(idx)['instances']]
