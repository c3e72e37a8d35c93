"""Every mmengine, mmcv and torch private symbol that mmcv_patches or ssd_npu replaces, overrides or reads.

When an upgrade removes or changes one of them, this test names it and the patch to review, instead of
a failure deep inside a training run.
"""
import importlib
import inspect

import pytest
import torch

import mmcv_patches

# (module, attribute path, parameter names of mmengine's original, the patch that depends on it)
SYMBOLS = [
    ('mmengine.dist.utils', '_init_dist_pytorch', ['backend', 'init_backend', 'kwargs'], 'dist_utils'),
    ('mmengine.dist.utils', '_init_dist_slurm', ['backend', 'port', 'init_backend', 'kwargs'], 'dist_utils'),
    ('mmengine.dist.utils', '_init_dist_mpi', ['backend', 'kwargs'], 'dist_utils'),
    ('mmengine.runner.checkpoint', '_get_mmengine_home', [], 'checkpoint'),
    ('mmengine.runner.checkpoint', '_process_mmcls_checkpoint', ['checkpoint'], 'checkpoint'),
    ('mmengine.runner.checkpoint', 'load_from_http', ['filename', 'map_location', 'model_dir', 'progress'],
     'checkpoint'),
    ('mmengine.runner.checkpoint', 'load_from_local', ['filename', 'map_location'], 'checkpoint'),
    ('mmengine.utils.package_utils', 'is_installed', ['package'], 'package_utils'),
    ('mmengine.utils.package_utils', 'get_installed_path', ['package'], 'package_utils'),
    ('mmengine.utils.package_utils', 'package2module', ['package'], 'package_utils'),
    ('mmengine.device.utils', 'get_device', [], 'device'),
    ('mmengine.fileio.backends.local_backend', 'LocalBackend.put', ['self', 'obj', 'filepath'],
     'atomic_save'),
    ('mmengine.fileio.backends.local_backend', 'LocalBackend.put_text',
     ['self', 'obj', 'filepath', 'encoding'], 'atomic_save'),
    ('mmengine.model.wrappers.distributed', 'MMDistributedDataParallel.__init__',
     ['self', 'module', 'detect_anomalous_params', 'kwargs'], 'distributed'),
    # ssd_npu.engine.optimizers subclasses these: its AmpOptimWrapper skips mmengine's __init__ and sets
    # what it sets, calls _clip_grad, and overrides update_params.
    ('mmengine.optim.optimizer.amp_optimizer_wrapper', 'AmpOptimWrapper.__init__',
     ['self', 'loss_scale', 'dtype', 'use_fsdp', 'kwargs'], 'ssd_npu.engine.optimizers.amp_optim_wrapper'),
    ('mmengine.optim.optimizer.optimizer_wrapper', 'OptimWrapper._clip_grad', ['self'],
     'ssd_npu.engine.optimizers.amp_optim_wrapper'),
    ('mmengine.optim.optimizer.optimizer_wrapper', 'OptimWrapper.update_params',
     ['self', 'loss', 'step_kwargs', 'zero_kwargs'], 'ssd_npu.engine.optimizers.non_finite_check'),
    ('mmengine.model.base_model.data_preprocessor', 'BaseDataPreprocessor.to', ['self', 'args', 'kwargs'],
     'data_preprocessor'),
    ('torch.serialization', 'safe_globals', ['safe_globals'], 'checkpoint'),
    # ssd_npu's RandomFlip flips padded box arrays with mmcv's private box flip.
    ('mmcv.transforms', 'RandomFlip._flip_bbox', ['self', 'bboxes', 'img_shape', 'direction'],
     'ssd_npu/datasets/transforms/random_flip.py'),
]


def _resolve(module_name: str, path: str):
    """mmengine's object at ``module.path``: the recorded original where a patch replaced it."""
    owner = importlib.import_module(module_name)
    for part in path.split('.'):
        owner = getattr(owner, part)
    key = f'{module_name}.{path}'
    return mmcv_patches.ORIGINALS.get(key, owner)


@pytest.mark.parametrize('module_name, path, parameters, patch', SYMBOLS, ids=[s[1] for s in SYMBOLS])
def test_symbol_exists_with_the_signature_the_patch_was_written_for(module_name, path, parameters, patch):
    mmcv_patches.apply()
    try:
        symbol = _resolve(module_name, path)
    except (ImportError, AttributeError) as error:
        pytest.fail(f'{module_name}.{path} is gone ({error}); review {patch}, which depends on it')
    found = list(inspect.signature(symbol).parameters)
    assert found == parameters, (f'{module_name}.{path} changed its signature from {parameters} to {found}; '
                                 f'review {patch}, which depends on it')


def test_checkpoint_scheme_table_still_holds_every_scheme_we_replace():
    from mmengine.runner.checkpoint import CheckpointLoader

    from mmcv_patches.checkpoint import SAFE_LOADERS

    missing = set(SAFE_LOADERS) - set(CheckpointLoader._schemes)
    assert not missing, f'mmengine CheckpointLoader._schemes lacks {missing}; review checkpoint.py'


def test_fused_sgd_still_has_the_amp_scaling_flag():
    # ssd_npu.engine.optimizers.amp_optim_wrapper unsets this torch-private flag on fused SGD.
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, fused=True)
    assert getattr(optimizer, '_step_supports_amp_scaling', None) is True, (
        'torch.optim.SGD(fused=True)._step_supports_amp_scaling is gone; review '
        'ssd_npu.engine.optimizers.amp_optim_wrapper')


# Private methods of mmengine/mmcv classes that ssd_npu's subclasses override: (module, class, method,
# parameter names, the ssd_npu file). The override is only reached while the base class still calls
# the method by that name with those arguments.
OVERRIDDEN = [
    ('mmengine.hooks', 'CheckpointHook', '_save_checkpoint_with_step', ['self', 'runner', 'step', 'meta'],
     'ssd_npu/engine/hooks/checkpoint_hook.py'),
    ('mmengine.hooks', 'CheckpointHook', '_save_best_checkpoint', ['self', 'runner', 'metrics'],
     'ssd_npu/engine/hooks/checkpoint_hook.py'),
    ('mmcv.transforms', 'RandomFlip', '_flip', ['self', 'results'],
     'ssd_npu/datasets/transforms/random_flip.py'),
    ('mmcv.transforms', 'Resize', '_resize_bboxes', ['self', 'results'],
     'ssd_npu/datasets/transforms/resize.py'),
    ('mmcv.transforms', 'LoadAnnotations', '_load_bboxes', ['self', 'results'],
     'ssd_npu/datasets/transforms/loading.py'),
]


@pytest.mark.parametrize('module_name, class_name, method, parameters, ours', OVERRIDDEN,
                         ids=[f'{s[1]}.{s[2]}' for s in OVERRIDDEN])
def test_overridden_private_method_is_still_called_with_the_same_arguments(module_name, class_name, method,
                                                                          parameters, ours):
    base = getattr(importlib.import_module(module_name), class_name)
    original = getattr(base, method, None)
    assert original is not None, f'{module_name}.{class_name}.{method} is gone; review {ours}'
    found = list(inspect.signature(original).parameters)
    assert found == parameters, (f'{class_name}.{method} changed its signature from {parameters} to {found}; '
                                 f'review {ours}, which overrides it')
    assert f'self.{method}(' in inspect.getsource(base), (
        f'{class_name} no longer calls self.{method}(...): the override in {ours} would never run')


def test_dataset_metainfo_hook_is_still_a_classmethod_taking_metainfo():
    # ssd_npu/datasets/base_det_dataset.py overrides it to add a palette and check the classes.
    from mmengine.dataset import BaseDataset

    assert isinstance(inspect.getattr_static(BaseDataset, '_load_metainfo'), classmethod)
    assert list(inspect.signature(BaseDataset._load_metainfo).parameters) == ['metainfo']
    assert 'self._load_metainfo(' in inspect.getsource(BaseDataset.__init__)
    # ssd_npu's CocoDataset, VOCDataset and XMLDataset read and extend the instance's merged copy.
    assert 'self._metainfo = self._load_metainfo(' in inspect.getsource(BaseDataset.__init__)


def test_runner_still_keeps_the_randomness_config_as_a_dict():
    # ssd_npu/engine/hooks/epoch_seed_hook.py reads runner._randomness_cfg['diff_rank_seed'].
    from mmengine.runner import Runner

    source = inspect.getsource(Runner.__init__)
    assert 'self._randomness_cfg = randomness' in source, (
        'mmengine Runner no longer sets self._randomness_cfg; review ssd_npu/engine/hooks/epoch_seed_hook.py')
    assert "randomness: Dict = dict(seed=None)" in inspect.getsource(Runner)


def test_image_preprocessor_still_has_its_conversion_and_normalisation_flags():
    # ssd_npu/models/data_preprocessors/det_data_preprocessor.py reads both in its own batched forward.
    from mmengine.model import ImgDataPreprocessor

    rgb = ImgDataPreprocessor(mean=[1, 2, 3], std=[4, 5, 6], bgr_to_rgb=True)
    plain = ImgDataPreprocessor()
    assert (rgb._channel_conversion, rgb._enable_normalize) == (True, True)
    assert (plain._channel_conversion, plain._enable_normalize) == (False, False)


def test_dispatcher_still_answers_which_device_has_a_torchvision_nms_kernel():
    # ssd_npu/models/layers/nms.py asks the dispatcher instead of calling (and failing) on a device.
    import torchvision  # noqa: F401  (registers torchvision::nms)

    key = torch._C._dispatch_key_for_device('cpu')
    assert key == 'CPU'
    assert torch._C._dispatch_has_kernel_for_dispatch_key('torchvision::nms', key) is True
    assert torch._C._dispatch_has_kernel_for_dispatch_key('torchvision::nms', 'PrivateUse1') is False


def test_grad_scaler_still_records_overflow_per_optimizer_and_device():
    # ssd_npu.engine.optimizers.amp_optim_wrapper reads and sets found_inf_per_device to make every
    # rank skip a step that overflowed on one.
    weight = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    scaler = torch.amp.GradScaler('cpu')
    scaler.scale(weight.sum() * float('inf')).backward()
    scaler.unscale_(optimizer)
    state = scaler._per_optimizer_states[id(optimizer)]
    assert [float(value) for value in state['found_inf_per_device'].values()] == [1.0]


def test_module_to_argument_parser_still_returns_the_device_first():
    # mmcv_patches/data_preprocessor.py reads the target device of BaseDataPreprocessor.to(...) with it,
    # and keeps it where mmengine keeps it.
    from mmengine.model import BaseDataPreprocessor

    assert BaseDataPreprocessor()._device == torch.device('cpu')
    assert torch._C._nn._parse_to('cpu')[0] == torch.device('cpu')
    assert torch._C._nn._parse_to(torch.float16)[0] is None
