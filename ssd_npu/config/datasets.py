"""Where a config's datasets are: the one walker through dataset wrappers, and what is read through it.

``--data-root DIR`` moves every dataset and the annotation files its evaluators read; inference
and export read the test dataset's pipeline, input size and class names.
"""
import os.path as osp
from typing import Iterator, Optional, Tuple

from mmengine.config import Config

from ssd_npu.registry import DATASETS

_LOADERS = {'train_dataloader': None, 'val_dataloader': 'val_evaluator', 'test_dataloader': 'test_evaluator'}


def leaf_datasets(dataset: dict) -> Iterator[dict]:
    """The datasets that read files, through ``RepeatDataset.dataset`` and ``ConcatDataset.datasets``."""
    if isinstance(dataset.get('dataset'), dict):
        yield from leaf_datasets(dataset['dataset'])
    elif isinstance(dataset.get('datasets'), list):
        for child in dataset['datasets']:
            yield from leaf_datasets(child)
    else:
        yield dataset


def set_data_root(cfg: Config, data_root: str) -> None:
    """Set ``data_root`` of every dataset of the three dataloaders, and the evaluators' ``ann_file``.

    An evaluator's ``ann_file`` (CocoMetric reads the ground truth itself) becomes ``data_root``
    joined with the ``ann_file`` of its dataloader's dataset, which datasets take relative to
    their root.
    """
    data_root = osp.join(data_root, '')  # mmdetection's configs end their roots with '/'
    for loader_name, evaluator_name in _LOADERS.items():
        loader = cfg.get(loader_name)
        if not isinstance(loader, dict) or not isinstance(loader.get('dataset'), dict):
            continue
        leaves = list(leaf_datasets(loader['dataset']))
        for dataset in leaves:
            dataset['data_root'] = data_root
        evaluators = cfg.get(evaluator_name) if evaluator_name else None
        for evaluator in (evaluators if isinstance(evaluators, list) else [evaluators]):
            ann_file = leaves[0].get('ann_file')
            relative = ann_file and not osp.isabs(ann_file)
            if isinstance(evaluator, dict) and 'ann_file' in evaluator and relative:
                evaluator['ann_file'] = osp.join(data_root, ann_file)


def test_dataset_cfg(cfg: Config) -> dict:
    """The config of the first dataset the test dataloader reads files from (through its wrappers).

    Raises:
        KeyError: the config has no ``test_dataloader``.
    """
    if 'test_dataloader' not in cfg:
        raise KeyError('The config has no test_dataloader: inference needs its dataset.pipeline')
    return next(leaf_datasets(cfg.test_dataloader.dataset))


def dataset_meta_from_config(cfg: Config) -> Optional[dict]:
    """``metainfo`` of the config's test dataset: the one set in the config, else the class default."""
    if 'test_dataloader' not in cfg:
        return None
    dataset_cfg = test_dataset_cfg(cfg)
    if dataset_cfg.get('metainfo'):
        return dict(dataset_cfg['metainfo'])
    dataset_cls = DATASETS.get(dataset_cfg.get('type', ''))
    metainfo = getattr(dataset_cls, 'METAINFO', None)
    return dict(metainfo) if metainfo else None


def input_size_from_config(cfg: Config) -> Tuple[int, int]:
    """The (h, w) the test pipeline resizes every image to (its ``Resize`` with ``keep_ratio=False``).

    Raises:
        ValueError: the test pipeline has no such single ``Resize``.
    """
    resizes = [step for step in test_dataset_cfg(cfg)['pipeline'] if step['type'].split('.')[-1] == 'Resize']
    if len(resizes) != 1 or resizes[0].get('keep_ratio', False) or 'scale' not in resizes[0]:
        raise ValueError('export: the test pipeline must have one Resize(scale=(w, h), keep_ratio=False) '
                         'so that every image has the same input size; pass input_size=(h, w) instead')
    scale = resizes[0]['scale']
    width, height = (scale, scale) if isinstance(scale, int) else scale
    return int(height), int(width)
