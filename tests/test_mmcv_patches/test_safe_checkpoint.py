import io
import os
import os.path as osp
import pickle
import subprocess
import urllib.error
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mm_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint

import mmcv_patches
from mmcv_patches.checkpoint import (
    CHECKPOINT_DIR_ENV,
    CheckpointDownloadError,
    UnsafeCheckpointError,
    safe_load,
)

mmcv_patches.apply()


@pytest.fixture(scope='module')
def trained_checkpoint(tmp_path_factory, make_runner):
    """Work dir with epoch_2.pth of a Runner trained 2 epochs with AMP (meta, message_hub, optimizer
    with the loss-scaler state, param_schedulers), the trained weights and the final loss scale."""
    work_dir = tmp_path_factory.mktemp('trained')
    runner = make_runner(work_dir, max_epochs=2)
    runner.train()
    return work_dir, runner.model.state_dict(), runner.optim_wrapper.loss_scaler.get_scale()


@pytest.fixture
def no_download(monkeypatch):
    def refuse(url, *args, **kwargs):
        raise AssertionError(f'tests never download ({url})')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse)


class _Reduce:
    """Pickles as ``function(*args)``: what a malicious checkpoint holds."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _malicious_payloads(marker: str) -> dict:
    statistic = _Reduce(getattr, HistoryBuffer, 'mean')
    return {
        f'{os.system.__module__}.system': _Reduce(os.system, f'touch {marker}'),  # posix.system on Linux
        'builtins.eval': _Reduce(eval, f"__import__('os').system('touch {marker}')"),
        'subprocess.Popen': _Reduce(subprocess.Popen, ['touch', marker]),
        # allowed getattr(HistoryBuffer, 'mean'), then the step to the function's module globals
        'builtins.getattr(<function HistoryBuffer.mean': _Reduce(getattr, statistic, '__globals__'),
    }


@pytest.mark.parametrize('refused', list(_malicious_payloads('x')))
def test_malicious_checkpoint_is_refused_and_runs_nothing(tmp_path, refused):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': _malicious_payloads(str(marker))[refused]}, path)

    with pytest.raises(UnsafeCheckpointError) as error:
        safe_load(path)
    assert str(path) in str(error.value)
    assert refused in str(error.value)
    assert not marker.exists()


def test_mmengine_load_checkpoint_goes_through_the_safe_loader(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'weight': _Reduce(os.system, f'touch {marker}')}}, path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(torch.nn.Linear(1, 1), str(path))
    assert not marker.exists()


def test_mmengine_checkpoint_fails_with_torch_load_defaults(trained_checkpoint):
    work_dir, _, _ = trained_checkpoint
    # mmengine's own local loader: torch.load with torch>=2.6's weights_only default
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        mm_checkpoint.load_from_local(str(work_dir / 'epoch_2.pth'), 'cpu')


def test_mmengine_checkpoint_loads_with_all_its_parts(trained_checkpoint):
    work_dir, state_dict, scale = trained_checkpoint
    checkpoint = safe_load(work_dir / 'epoch_2.pth')
    assert set(checkpoint) >= {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'}
    assert checkpoint['optimizer']['loss_scaler']['scale'] == scale
    assert checkpoint['meta']['epoch'] == 2
    loss_history = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss_history, HistoryBuffer) and np.isfinite(loss_history.mean())
    for key, value in state_dict.items():
        assert torch.equal(checkpoint['state_dict'][key], value)


def test_resume_continues_training_from_the_checkpoint(trained_checkpoint, make_runner, tmp_path):
    work_dir, _, scale = trained_checkpoint
    runner = make_runner(work_dir, max_epochs=3, resume=True)
    runner.train()
    assert runner.epoch == 3 and runner.iter == 6  # 2 epochs resumed + 1 trained, 2 iterations each
    # the AMP loss scale continued from the saved one (no overflow on this toy: unchanged)
    assert runner.optim_wrapper.loss_scaler.get_scale() == scale
    # MultiStepLR decayed at epoch 1 before the save; the resumed schedule keeps the decayed lr
    assert runner.optim_wrapper.get_lr()['lr'] == [pytest.approx(0.001)]
    assert runner.message_hub.get_scalar('train/loss').data[0].size == 6


def test_load_from_puts_the_weights_into_a_new_model(trained_checkpoint, make_runner, tmp_path):
    work_dir, state_dict, _ = trained_checkpoint
    runner = make_runner(tmp_path, max_epochs=1, load_from=str(work_dir / 'epoch_2.pth'))
    runner.load_or_resume()
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, state_dict[key])


def test_plain_and_legacy_state_dicts_load(tmp_path):
    state_dict = torch.nn.Conv2d(3, 4, 3).state_dict()
    for name, new_format in (('zip.pth', True), ('legacy.pth', False)):
        torch.save(state_dict, tmp_path / name, _use_new_zipfile_serialization=new_format)
        loaded = safe_load(tmp_path / name)
        assert isinstance(loaded, OrderedDict)
        assert all(torch.equal(loaded[key], value) for key, value in state_dict.items())


def test_numpy_values_and_history_buffers_round_trip():
    history = HistoryBuffer()
    for value in (1.0, 2.0, 6.0):
        history.update(value)
    data = {'array': np.arange(6, dtype=np.float32).reshape(2, 3), 'flags': np.array([True, False]),
            'scalar': np.float64(0.5), 'count': np.int64(7), 'history': history}
    buffer = io.BytesIO()
    torch.save(data, buffer)
    buffer.seek(0)
    loaded = safe_load(buffer)
    np.testing.assert_array_equal(loaded['array'], data['array'])
    assert loaded['array'].dtype == np.float32 and loaded['flags'].dtype == np.bool_
    assert loaded['scalar'] == 0.5 and loaded['count'] == 7
    assert loaded['history'].mean() == 3.0 and loaded['history'].max() == 6.0


def test_open_mmlab_name_resolves_from_the_checkpoint_dir(tmp_path, monkeypatch, no_download):
    weights = {'conv.weight': torch.randn(2, 2)}
    torch.save(weights, tmp_path / osp.basename(mm_checkpoint.get_external_models()['vgg16_caffe']))
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path))
    loaded = CheckpointLoader.load_checkpoint('open-mmlab://vgg16_caffe', map_location='cpu')
    assert torch.equal(loaded['conv.weight'], weights['conv.weight'])


def test_torchvision_name_resolves_from_the_torch_hub_cache(tmp_path, monkeypatch, no_download):
    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cache = tmp_path / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    url = mm_checkpoint.get_torchvision_models()['vgg16']
    torch.save({'features.0.bias': torch.ones(3)}, cache / osp.basename(url))
    loaded = CheckpointLoader.load_checkpoint('torchvision://vgg16', map_location='cpu')
    assert torch.equal(loaded['features.0.bias'], torch.ones(3))


def test_download_happens_only_without_a_local_copy(tmp_path, monkeypatch):
    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    downloads = []

    def fake_download(url, destination, progress=True):
        downloads.append((url, destination))
        torch.save({'w': torch.zeros(1)}, destination)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    url = 'https://example.com/models/tiny-0123abcd.pth'
    for _ in range(2):
        assert torch.equal(CheckpointLoader.load_checkpoint(url)['w'], torch.zeros(1))
    assert downloads == [(url, str(tmp_path / 'hub' / 'checkpoints' / 'tiny-0123abcd.pth'))]


def test_offline_download_says_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))

    def offline(url, destination, progress=True):
        raise urllib.error.URLError(OSError(-3, 'Temporary failure in name resolution'))

    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    with pytest.raises(CheckpointDownloadError) as info:
        CheckpointLoader.load_checkpoint('torchvision://vgg16')
    message = str(info.value)
    assert 'Temporary failure in name resolution' in message
    assert f'put it into {tmp_path / "hub" / "checkpoints"}/' in message and CHECKPOINT_DIR_ENV in message
    assert osp.basename(mm_checkpoint.get_torchvision_models()['vgg16']) in message
    assert 'init_cfg' in message


def test_cached_url_checkpoint_is_refused_where_mmengine_ran_its_code(tmp_path, monkeypatch, no_download):
    marker = tmp_path / 'pwned'
    torch.save({'w': _Reduce(os.system, f'touch {marker}')}, tmp_path / 'model-0123abcd.pth')
    url = 'https://example.com/model-0123abcd.pth'

    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path))
    with pytest.raises(UnsafeCheckpointError, match='model-0123abcd.pth'):
        CheckpointLoader.load_checkpoint(url)
    assert not marker.exists()

    # mmengine's http loader: torch.hub.load_state_dict_from_url, weights_only=False
    mmcv_patches.ORIGINALS['mmengine.runner.checkpoint.load_from_http'](url, model_dir=str(tmp_path))
    assert marker.exists()


def test_object_store_scheme_is_loaded_safely(monkeypatch):
    buffer = io.BytesIO()
    torch.save({'w': _Reduce(os.system, 'true')}, buffer)

    class FakeBackend:
        def get(self, filepath):
            return buffer.getvalue()

    monkeypatch.setattr(mm_checkpoint, 'get_file_backend', lambda *args, **kwargs: FakeBackend())
    with pytest.raises(UnsafeCheckpointError, match='s3://bucket/evil.pth'):
        CheckpointLoader.load_checkpoint('s3://bucket/evil.pth')
