"""Every mmengine/torch symbol the patch layer replaces, calls privately or relies on, with its signature.

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
