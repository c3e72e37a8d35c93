import importlib.metadata
import re
import warnings

import pytest

from mmcv_patches import versions


def test_release_numbers_ignore_local_and_pre_release_tags():
    assert versions.release('2.14.1+cu130') == (2, 14, 1)
    assert versions.release('0.10.7') == (0, 10, 7)
    assert versions.release('2.6') == (2, 6, 0)
    assert versions.release('2.15.0rc1') == (2, 15, 0)


def test_installed_releases_are_within_the_tested_ranges():
    assert versions.untested_versions() == []


def test_requirements_lower_bounds_are_the_tested_ones():
    bounds = dict(re.match(r'([\w-]+)>=([\d.]+)', line).groups()
                  for line in open('requirements/runtime.txt').read().splitlines() if '>=' in line)
    for distribution, (low, _) in versions.TESTED_RANGES.items():
        assert versions.release(bounds[distribution]) == versions.release(low), distribution


@pytest.fixture
def mmengine_0_11(monkeypatch):
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, 'version',
                        lambda name: '0.11.0' if name == 'mmengine' else real(name))
    monkeypatch.setattr(versions, '_warned', False)


def test_an_untested_release_is_named_in_one_warning(mmengine_0_11):
    with pytest.warns(UserWarning, match=r'mmengine 0\.11\.0 \(tested: 0\.10\.4 \.\. 0\.10\.7\)'):
        versions.warn_if_untested()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        versions.warn_if_untested()  # once per process
