"""mmdetection 2.x configs (the old Ascend port's, mmdetection 2.25's SSD) as 3.x-style configs.

A 2.x config describes data with ``data=dict(samples_per_gpu, workers_per_gpu, train, val, test)``,
pipelines ending in ``Normalize``/``DefaultFormatBundle``/``Collect``, and training with
``optimizer``, ``optimizer_config``, ``lr_config``, ``runner``, ``evaluation``,
``checkpoint_config``, ``log_config`` and ``fp16``. :func:`upgrade_config` maps these onto the
3.x entries (dataloaders, ``data_preprocessor``, ``PackDetInputs``, ``optim_wrapper``,
``param_scheduler``, ``train_cfg``, ``val_evaluator``, ``default_hooks``) and fills the runtime
entries from ``configs/_base_/default_runtime.py``. ``tools/misc/upgrade_config.py`` writes the
result; ``tools/train.py``/``test.py`` convert in memory.
"""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config

from ssd_npu.errors import UsageError

from .datasets import leaf_datasets
from .package_bases import CONFIGS

_LEGACY_KEYS = ('data', 'optimizer', 'optimizer_config', 'lr_config', 'runner', 'evaluation',
                'checkpoint_config', 'log_config', 'total_epochs')
_DEFAULT_RUNTIME = osp.join(CONFIGS, '_base_', 'default_runtime.py')
_DROPPED_STEPS = ('Normalize', 'Pad', 'DefaultFormatBundle', 'Collect', 'ImageToTensor', 'ToTensor')
_TEST_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')
_METRICS = {'CocoDataset': 'CocoMetric', 'VOCDataset': 'VOCMetric'}


def is_legacy_config(cfg: Config) -> bool:
    """Whether ``cfg`` is written the mmdetection 2.x way (and not already 3.x)."""
    return 'train_dataloader' not in cfg and any(key in cfg for key in _LEGACY_KEYS)


def _normalisation(pipelines: List[list]) -> Dict[str, Any]:
    """The data preprocessor's settings from the pipelines' ``Normalize`` and ``Pad`` steps."""
    settings: Dict[str, Any] = dict(type='DetDataPreprocessor', pad_size_divisor=1)
    for step in (step for pipeline in pipelines for step in _flat(pipeline)):
        if step['type'] == 'Normalize':
            settings.update(mean=list(step['mean']), std=list(step['std']),
                            bgr_to_rgb=step.get('to_rgb', True))
        elif step['type'] == 'Pad' and 'size_divisor' in step:
            settings['pad_size_divisor'] = step['size_divisor']
    return settings


def _flat(pipeline: list) -> List[dict]:
    """The steps of a pipeline with ``MultiScaleFlipAug`` unrolled into its transforms."""
    steps = []
    for step in pipeline:
        if step['type'] != 'MultiScaleFlipAug':
            steps.append(step)
            continue
        for inner in step['transforms']:  # its Resize takes the scale of the wrapper
            steps.append(dict(inner, img_scale=step['img_scale']) if inner['type'] == 'Resize' else inner)
    return steps


def _upgrade_step(step: dict) -> Optional[dict]:
    """A 2.x pipeline step with 3.x argument names; None for the steps 3.x does elsewhere."""
    step = dict(step)
    kind = step['type']
    if kind in _DROPPED_STEPS:
        return None
    if kind == 'Resize':
        scale = step.pop('img_scale', None)
        if isinstance(scale, list):  # 2.x allowed a list of scales (multi-scale); SSD uses one
            scale = scale[0]
        if scale is not None:
            step['scale'] = tuple(scale)
        step.pop('multiscale_mode', None)
    elif kind == 'RandomFlip' and 'flip_ratio' in step:
        step['prob'] = step.pop('flip_ratio')
    return step


def upgrade_pipeline(pipeline: list, test: bool) -> list:
    """A 2.x pipeline as 3.x steps ending in ``PackDetInputs`` (test: annotations loaded after Resize)."""
    steps = [step for step in map(_upgrade_step, _flat(pipeline)) if step is not None]
    if test:
        steps = [step for step in steps if step['type'] != 'LoadAnnotations']
        steps.append(dict(type='LoadAnnotations', with_bbox=True))
        steps.append(dict(type='PackDetInputs', meta_keys=_TEST_META_KEYS))
    else:
        steps.append(dict(type='PackDetInputs'))
    return steps


def _split_root(path: str, data_root: str) -> Tuple[str, str]:
    """(root, relative path) of a 2.x path written as ``data_root + 'annotations/...'``."""
    if data_root and path.startswith(data_root):
        return data_root, path[len(data_root):]
    return '', path


def _upgrade_dataset(dataset: dict, data_root: str, test: bool) -> dict:
    dataset = copy.deepcopy(dataset)
    dataset.pop('_delete_', None)
    if 'dataset' in dataset:
        dataset['dataset'] = _upgrade_dataset(dataset['dataset'], data_root, test)
        return dataset
    if 'datasets' in dataset:
        dataset['datasets'] = [_upgrade_dataset(child, data_root, test) for child in dataset['datasets']]
        return dataset
    root, ann_file = _split_root(dataset.pop('ann_file'), data_root)
    dataset.update(data_root=dataset.pop('data_root', root), ann_file=ann_file)
    if 'img_prefix' in dataset:
        dataset['data_prefix'] = dict(img=_split_root(dataset.pop('img_prefix'), dataset['data_root'])[1])
    if 'classes' in dataset:
        dataset['metainfo'] = dict(classes=tuple(dataset.pop('classes')))
    filter_empty_gt = dataset.pop('filter_empty_gt', True)
    if test:
        dataset['test_mode'] = True
    else:
        dataset['filter_cfg'] = dict(filter_empty_gt=filter_empty_gt, min_size=32)
    dataset['pipeline'] = upgrade_pipeline(dataset['pipeline'], test)
    return dataset


def _dataloaders(old: Config, new: dict) -> None:
    data = old['data']
    data_root = old.get('data_root', '')
    workers = data.get('workers_per_gpu', 2)
    for split, shuffle in (('train', True), ('val', False), ('test', False)):
        if split not in data:
            continue
        default_batch = data.get('samples_per_gpu', 1) if split == 'train' else 1
        batch = data.get(f'{split}_dataloader', {}).get('samples_per_gpu', default_batch)
        new[f'{split}_dataloader'] = dict(
            batch_size=batch, num_workers=workers, persistent_workers=workers > 0, drop_last=False,
            sampler=dict(type='DefaultSampler', shuffle=shuffle),
            dataset=_upgrade_dataset(data[split], data_root, test=split != 'train'))
    for split in ('val', 'test'):
        if f'{split}_dataloader' not in new:
            continue
        leaf = next(leaf_datasets(new[f'{split}_dataloader']['dataset']))
        metric = old.get('evaluation', {}).get('metric', 'bbox')
        evaluator = dict(type=_METRICS.get(leaf['type'], 'CocoMetric'))
        if evaluator['type'] == 'CocoMetric':
            evaluator.update(ann_file=leaf['data_root'] + leaf['ann_file'], metric=metric, format_only=False)
        else:
            evaluator.update(metric='mAP')
        new[f'{split}_evaluator'] = evaluator


def _optim_wrapper(old: Config) -> dict:
    optimizer = dict(old['optimizer'])
    wrapper: Dict[str, Any] = dict(type='OptimWrapper', optimizer=optimizer)
    if 'paramwise_cfg' in optimizer:
        wrapper['paramwise_cfg'] = optimizer.pop('paramwise_cfg')
    grad_clip = (old.get('optimizer_config') or {}).get('grad_clip')
    if grad_clip:
        wrapper['clip_grad'] = dict(grad_clip)
    if old.get('fp16'):
        wrapper.update(type='AmpOptimWrapper', loss_scale=old['fp16'].get('loss_scale', 'dynamic'))
    return wrapper


def _param_schedulers(lr_config: dict, length: int, by_epoch: bool) -> List[dict]:
    """2.x's ``lr_config`` (warmup + step/cosine/fixed) as 3.x schedulers over ``length`` epochs/iters."""
    lr_config = dict(lr_config)
    policy = lr_config.pop('policy').lower()
    schedulers = []
    warmup = lr_config.pop('warmup', None)
    if warmup:
        iters, ratio = lr_config.pop('warmup_iters', 500), lr_config.pop('warmup_ratio', 0.1)
        kind = dict(linear='LinearLR', constant='ConstantLR').get(warmup)
        if kind is None:
            raise UsageError(f"lr_config warmup='{warmup}' has no 3.x scheduler here; "
                             "use 'linear' or 'constant'")
        factor = dict(start_factor=ratio) if kind == 'LinearLR' else dict(factor=ratio)
        schedulers.append(dict(type=kind, by_epoch=False, begin=0, end=iters, **factor))
    if policy == 'step':
        steps = lr_config.get('step')
        steps = [steps] if isinstance(steps, int) else list(steps)
        schedulers.append(dict(type='MultiStepLR', by_epoch=by_epoch, begin=0, end=length, milestones=steps,
                               gamma=lr_config.get('gamma', 0.1)))
    elif policy == 'cosineannealing':
        schedulers.append(dict(type='CosineAnnealingLR', by_epoch=by_epoch, begin=0, end=length, T_max=length,
                               eta_min=lr_config.get('min_lr', 0.0)))
    elif policy != 'fixed':
        raise UsageError(f"lr_config policy='{policy}' has no 3.x conversion here; "
                         'write param_scheduler by hand')
    return schedulers


def _runtime(old: Config, new: dict) -> None:
    runtime = Config.fromfile(_DEFAULT_RUNTIME).to_dict()
    hooks = runtime['default_hooks']
    checkpoint = old.get('checkpoint_config') or {}
    hooks['checkpoint'].update({key: checkpoint[key] for key in ('interval', 'max_keep_ckpts')
                                if key in checkpoint})
    log_config = old.get('log_config') or {}
    if 'interval' in log_config:
        hooks['logger']['interval'] = log_config['interval']
    if any(hook['type'] == 'TensorboardLoggerHook' for hook in log_config.get('hooks', [])):
        runtime['vis_backends'] = runtime['visualizer']['vis_backends'] = [
            dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
    ours = {hook['type'] for hook in runtime['custom_hooks']}
    runtime['custom_hooks'] += [dict(hook) for hook in old.get('custom_hooks', [])
                                if hook['type'] not in ours]
    if 'opencv_num_threads' in old or 'mp_start_method' in old:
        runtime['env_cfg']['mp_cfg'].update(
            {key: old[key] for key in ('opencv_num_threads', 'mp_start_method') if key in old})
    new.update(runtime)
    new['load_from'] = old.get('resume_from') or old.get('load_from')
    new['resume'] = bool(old.get('resume_from'))


def upgrade_config(old: Config) -> Config:
    """The 3.x-style config of a merged 2.x config (``Config.fromfile`` of it, bases included).

    Raises:
        UsageError: a 2.x setting this conversion does not know (named in the message).
    """
    if 'data' not in old:
        raise UsageError('a 2.x config describes its data in data=dict(train=..., val=..., test=...); '
                         'this one has none')
    new: Dict[str, Any] = {}
    _runtime(old, new)
    model = copy.deepcopy(old['model'])
    for key in ('train_cfg', 'test_cfg'):  # before mmdetection 2.?: top-level, not in the model
        if key in old and key not in model:
            model[key] = old[key]
    pipelines = [next(leaf_datasets(old['data'][split]))['pipeline'] for split in ('train', 'test')
                 if split in old['data']]
    model['data_preprocessor'] = _normalisation(pipelines)
    new['model'] = model
    _dataloaders(old, new)
    runner = old.get('runner') or dict(type='EpochBasedRunner', max_epochs=old.get('total_epochs', 12))
    evaluation = old.get('evaluation') or {}
    if runner['type'] == 'IterBasedRunner':
        new['train_cfg'] = dict(type='IterBasedTrainLoop', max_iters=runner['max_iters'],
                                val_interval=evaluation.get('interval', runner['max_iters']))
        length = runner['max_iters']
    else:
        new['train_cfg'] = dict(type='EpochBasedTrainLoop', max_epochs=runner['max_epochs'],
                                val_interval=evaluation.get('interval', 1))
        length = runner['max_epochs']
    if 'val_dataloader' in new:
        new['val_cfg'] = dict(type='ValLoop')
    if 'test_dataloader' in new:
        new['test_cfg'] = dict(type='TestLoop')
    if evaluation.get('save_best'):
        new['default_hooks']['checkpoint']['save_best'] = evaluation['save_best']
    new['optim_wrapper'] = _optim_wrapper(old)
    if old.get('lr_config'):
        new['param_scheduler'] = _param_schedulers(old['lr_config'], length,
                                                   by_epoch=runner['type'] != 'IterBasedRunner')
    if old.get('auto_scale_lr'):
        new['auto_scale_lr'] = dict(old['auto_scale_lr'])
    new['default_scope'] = 'ssd_npu'
    return Config(new)
