"""``tools/test.py --tta``: the config's model wrapped in its ``tta_model``, the test data read
through its ``tta_pipeline`` (mmdetection 3.x's keys and behaviour).

A config without ``tta_pipeline`` gets the test pipeline with a horizontal-flip view added (two
views per image: as is and flipped); one without ``tta_model`` (the shipped configs set it in
``_base_/default_runtime.py``) gets :data:`DEFAULT_TTA_MODEL`.
"""
import copy

from mmengine.config import Config

from .datasets import test_dataset_cfg

# SSD's own test_cfg NMS threshold and detection count, applied to the union of the views.
DEFAULT_TTA_MODEL = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.45),
                                                          max_per_img=200))
# What the merge needs to undo a flip, besides the test pipeline's own meta keys.
FLIP_META_KEYS = ('flip', 'flip_direction')


def flip_tta_pipeline(test_pipeline: list) -> list:
    """``test_pipeline`` (dicts) with a ``TestTimeAug`` giving each image an unflipped and a
    horizontally flipped view after its image loading step; ``PackDetInputs`` keeps the flip."""
    steps = [copy.deepcopy(dict(step)) for step in test_pipeline]
    if not steps or steps[0].get('type') != 'LoadImageFromFile':
        raise ValueError('--tta: the test pipeline must start with LoadImageFromFile to add a flipped view; '
                         'write a tta_pipeline in the config')
    load, rest = steps[0], steps[1:]
    packs = [i for i, step in enumerate(rest) if step.get('type') == 'PackDetInputs']
    if not packs:
        raise ValueError('--tta: the test pipeline has no PackDetInputs; write a tta_pipeline in the config')
    pack = rest[packs[-1]]
    if 'meta_keys' in pack:
        missing = tuple(key for key in FLIP_META_KEYS if key not in pack['meta_keys'])
        pack['meta_keys'] = tuple(pack['meta_keys']) + missing
    before, after = rest[:packs[-1]], rest[packs[-1]:]
    # Geometry first (Resize ...), then the flip, then annotation loading and packing.
    resizes = [step for step in before if step.get('type') != 'LoadAnnotations']
    loads = [step for step in before if step.get('type') == 'LoadAnnotations']
    transforms = [[step] for step in resizes]
    transforms.append([dict(type='RandomFlip', prob=1.0), dict(type='RandomFlip', prob=0.0)])
    transforms += [[step] for step in loads + after]
    return [load, dict(type='TestTimeAug', transforms=transforms)]


def apply_test_time_aug(cfg: Config) -> None:
    """Wrap ``cfg.model`` in ``cfg.tta_model`` and read the test dataset through ``cfg.tta_pipeline``
    (defaults above), in place."""
    dataset = test_dataset_cfg(cfg)
    if 'tta_pipeline' not in cfg:
        cfg.tta_pipeline = flip_tta_pipeline(dataset.pipeline)
    dataset.pipeline = cfg.tta_pipeline
    cfg.model = dict(**(cfg.get('tta_model') or DEFAULT_TTA_MODEL), module=cfg.model)
