import mmengine.runner.runner
import torch

import mmcv_patches
import ssd_npu  # noqa: F401  (applies the patches with ssd_npu's device choice)


def test_runner_device_follows_ssd_npu_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)  # a GPU host
    monkeypatch.setenv('SSD_NPU_DEVICE', 'cpu')  # what --device cpu sets
    assert mmengine.runner.runner.get_device() == 'cpu'
    monkeypatch.delenv('SSD_NPU_DEVICE')
    assert mmengine.runner.runner.get_device() == 'cuda'


def test_mmengine_device_ignores_the_choice(monkeypatch):
    original = mmcv_patches.ORIGINALS['mmengine.device.utils.get_device']
    fixed_at_import = original()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    asked = 'cuda' if fixed_at_import == 'cpu' else 'cpu'
    monkeypatch.setenv('SSD_NPU_DEVICE', asked)
    assert original() == fixed_at_import != asked
    assert mmengine.runner.runner.get_device() == asked
