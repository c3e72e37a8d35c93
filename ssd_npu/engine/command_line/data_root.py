"""``--data-root DIR``: move every dataset of a config, and the annotation files its evaluators read."""
import os.path as osp
from typing import Iterator

from mmengine.config import Config

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
