import importlib.metadata
import os.path as osp
import sys

import mmcv
import mmengine
import pytest
from mmengine.config import Config

import mmcv_patches

mmcv_patches.apply()
# imported after apply(), as a module imported later (or the Runner) binds them
from mmengine.utils import get_installed_path, is_installed  # noqa: E402


def test_installed_packages_are_found_by_module_or_distribution_name():
    assert is_installed('mmengine')
    assert is_installed('mmcv-lite')  # distribution name, module mmcv
    assert get_installed_path('mmengine') == osp.dirname(mmengine.__file__)
    assert get_installed_path('mmcv-lite') == osp.dirname(mmcv.__file__)


def test_missing_packages_are_reported():
    assert not is_installed('surely_not_an_installed_package')
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        get_installed_path('surely_not_an_installed_package')


def test_the_pkg_resources_versions_are_gone(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pkg_resources', None)  # setuptools>=82, whatever is installed here
    with pytest.raises(ModuleNotFoundError, match='pkg_resources'):
        mmcv_patches.ORIGINALS['mmengine.utils.package_utils.is_installed']('mmengine')


def test_config_with_an_external_package_base_loads(tmp_path, monkeypatch):
    # an mmdet-style package shipping configs in .mim/, as `mim` installs them
    configs = tmp_path / 'mmdet' / '.mim' / 'configs' / '_base_'
    configs.mkdir(parents=True)
    (tmp_path / 'mmdet' / '__init__.py').write_text('')
    (tmp_path / 'mmdet' / '.mim' / 'model-index.yml').write_text('Import: []\n')
    (configs / 'schedule.py').write_text('max_epochs = 24\n')
    config = tmp_path / 'ssd.py'
    config.write_text("_base_ = 'mmdet::_base_/schedule.py'\nlr = 0.002\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    cfg = Config.fromfile(str(config))
    assert (cfg.max_epochs, cfg.lr) == (24, 0.002)
