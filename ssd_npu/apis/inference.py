"""Build a detector from a config and run it on images (mmdetection 3.x's inference API).

Configs are read by :func:`ssd_npu.config.load_config`, as the tools read them: an official
mmdetection 3.x or 2.x config works here as it does in ``tools/test.py``.
"""
import copy
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.runner import load_checkpoint

from ssd_npu.config import dataset_meta_from_config, load_config, test_dataset_cfg
from ssd_npu.deployment import ONNXDetector
from ssd_npu.models.detectors import check_num_classes
from ssd_npu.registry import MODELS
from ssd_npu.setup_env import register_all_modules
from ssd_npu.structures import DetDataSample

ImageInput = Union[str, Path, np.ndarray]


def init_detector(config: Union[str, Path, Config], checkpoint: Optional[str] = None, device: str = 'cpu',
                  cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the model of ``config``, load ``checkpoint`` and put it in eval mode on ``device``.

    The backbone's ``init_cfg`` (ImageNet weights) is not applied: the
    weights come from ``checkpoint`` (or stay at PyTorch's default init).
    Class names (``model.dataset_meta['classes']``) come from the checkpoint's
    ``meta.dataset_meta`` (mmdetection 3.x) or ``meta.CLASSES`` (2.x) when present,
    else from the config's test dataset.

    Args:
        config: config file path or :class:`~mmengine.config.Config`.
        checkpoint: checkpoint path or URL (loaded by mmengine's ``load_checkpoint``).
        device: e.g. 'cpu', 'cuda:0', 'npu:0'.
        cfg_options: overrides merged into the config, e.g. ``{'model.test_cfg.score_thr': 0.3}``.

    Returns:
        The detector, with ``cfg`` (the config) and ``dataset_meta`` attributes.

    Raises:
        ValueError: the head's ``num_classes`` differs from the number of class names.
    """
    config = load_config(config, cfg_options)
    register_all_modules()
    model = MODELS.build(config.model)

    dataset_meta = None
    if checkpoint is not None:
        meta = load_checkpoint(model, checkpoint, map_location='cpu').get('meta', {})
        dataset_meta = meta.get('dataset_meta')
        if not dataset_meta and meta.get('CLASSES'):
            # mmdetection 2.x checkpoints (the SSD model zoo files) store only the class names.
            dataset_meta = {'classes': tuple(meta['CLASSES'])}
    source = f'the checkpoint {checkpoint}'
    if not dataset_meta:
        dataset_meta = dataset_meta_from_config(config)
        source = 'the config\'s test dataset'
    if dataset_meta and 'classes' in dataset_meta:
        check_num_classes(model, dataset_meta['classes'], source)
    else:
        warnings.warn('init_detector: no class names in the checkpoint or the config; '
                      'detections will carry label indices only', stacklevel=2)
    model.cfg = config
    model.dataset_meta = dataset_meta
    return model.to(device).eval()


def init_onnx_detector(onnx_file: Union[str, Path], config: Union[str, Path, Config],
                       providers: Optional[Sequence[str]] = None,
                       cfg_options: Optional[dict] = None) -> nn.Module:
    """An exported model (``tools/deployment/export_onnx.py``) run by onnxruntime, for
    :func:`inference_detector` and the test loop, with the same results structure as :func:`init_detector`.

    Args:
        onnx_file: the .onnx file.
        config: the config it was exported from (its test pipeline prepares the images).
        providers: onnxruntime execution providers (default: CPU).
        cfg_options: overrides merged into the config.

    Returns:
        An :class:`~ssd_npu.deployment.ONNXDetector` with ``cfg`` and ``dataset_meta`` (the file's
        class names, else the config's test dataset's).
    """
    config = load_config(config, cfg_options)
    register_all_modules()
    model = ONNXDetector(onnx_file, providers=providers)
    model.cfg = config
    if model.dataset_meta is None:
        model.dataset_meta = dataset_meta_from_config(config)
    return model


def _test_pipelines(config: Config) -> Tuple[Compose, Compose]:
    """(pipeline for image files, pipeline for in-memory arrays) built from the test pipeline.

    Ground-truth loading is dropped (there is none at inference), and the
    array pipeline skips the file loader: the caller provides ``img`` directly.
    """
    steps = [step for step in test_dataset_cfg(config).pipeline
             if not step['type'].split('.')[-1] == 'LoadAnnotations']
    loader = [i for i, step in enumerate(steps) if step['type'].split('.')[-1] == 'LoadImageFromFile']
    array_steps = [step for i, step in enumerate(steps) if i not in loader]
    return Compose(copy.deepcopy(steps)), Compose(copy.deepcopy(array_steps))


def _load(image: ImageInput, index: int, file_pipeline: Compose, array_pipeline: Compose) -> dict:
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'inference_detector: an array image must be HxWx3 uint8 BGR, '
                             f'got shape {image.shape} dtype {image.dtype}')
        data = array_pipeline(dict(img=image, img_id=index, img_shape=image.shape[:2],
                                   ori_shape=image.shape[:2]))
    elif isinstance(image, (str, Path)):
        if not Path(image).is_file():
            raise FileNotFoundError(f'inference_detector: image file not found: {image}')
        data = file_pipeline(dict(img_path=str(image), img_id=index))
    else:
        raise TypeError(f'inference_detector: an image is a path or an HxWx3 uint8 array, got {type(image)}')
    if data is None:
        raise ValueError(f'inference_detector: the test pipeline could not load image {image}')
    return data


def inference_detector(model: nn.Module, imgs: Union[ImageInput, Sequence[ImageInput]],
                       batch_size: int = 1) -> Union[DetDataSample, List[DetDataSample]]:
    """Detect objects with the config's test pipeline and post-processing.

    Args:
        model: a detector from :func:`init_detector` or :func:`init_onnx_detector` (needs ``model.cfg``).
        imgs: an image path, an HxWx3 uint8 BGR array (as ``cv2.imread`` gives),
            or a list of those.
        batch_size: images per forward pass.

    Returns:
        One :class:`DetDataSample` per image (a single one for a single input)
        with ``pred_instances.bboxes`` (N, 4) xyxy in original-image pixels,
        ``.scores`` (N,) and ``.labels`` (N,) 0-based.
    """
    is_batch = isinstance(imgs, (list, tuple))
    images = list(imgs) if is_batch else [imgs]
    file_pipeline, array_pipeline = _test_pipelines(model.cfg)
    results = []
    for start in range(0, len(images), batch_size):
        batch = [_load(image, start + i, file_pipeline, array_pipeline)
                 for i, image in enumerate(images[start:start + batch_size])]
        data = dict(inputs=[item['inputs'] for item in batch],
                    data_samples=[item['data_samples'] for item in batch])
        with torch.no_grad():
            results.extend(model.test_step(data))
    return results if is_batch else results[0]
