"""``mmengine.utils.is_installed/get_installed_path/package2module`` without ``pkg_resources``.

Fixes: setuptools 82 removed ``pkg_resources``; mmengine 0.10.7 imports it inside these
three functions, so ``Config.fromfile`` with a ``'mmdet::...'``-style ``_base_``, lazy
``read_base()`` imports and ``mmengine.hub.get_config`` die with
``ModuleNotFoundError: No module named 'pkg_resources'``. These versions answer the same
questions from ``importlib.metadata`` (distributions) and ``importlib.util.find_spec``
(importable modules), and :func:`patch` puts them wherever mmengine bound the old ones.
Fixed upstream by open-mmlab/mmengine#1676 (merged after the 0.10.7 release); drop this patch
once the lowest supported mmengine contains it.
"""
import importlib.metadata
import importlib.util
import os.path as osp
from importlib.machinery import ModuleSpec
from typing import Optional

from ._patching import replace_everywhere


def _find_spec(module: str) -> Optional[ModuleSpec]:
    """``find_spec`` that answers None for names that are not importable module names."""
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


def package2module(package: str) -> str:
    """The top-level module a distribution installs (``mmcv-lite`` -> ``mmcv``).

    Raises:
        importlib.metadata.PackageNotFoundError: no distribution of that name is installed.
        ValueError: the distribution does not declare its top-level modules.
    """
    distribution = importlib.metadata.distribution(package)
    top_level = distribution.read_text('top_level.txt')
    if top_level and top_level.split():
        return top_level.split()[0]
    provided = [module for module, dists in importlib.metadata.packages_distributions().items()
                if distribution.metadata['Name'] in dists]
    if not provided:
        raise ValueError(f'cannot infer the module name of the package {package!r}')
    return sorted(provided)[0]


def is_installed(package: str) -> bool:
    """Whether ``package`` is an installed distribution or an importable (non-namespace) module."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = _find_spec(package)
        return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """The directory of the module ``package`` names, e.g. ``.../site-packages/mmdet``.

    ``package`` is a module name (``mmdet``) or a distribution name (``mmcv-lite``).
    Editable installs resolve to the source tree, as Python imports them.

    Raises:
        importlib.metadata.PackageNotFoundError: neither a module nor a distribution of that name.
        RuntimeError: ``package`` is a namespace package (it has no single directory).
    """
    spec = _find_spec(package)
    if spec is None:
        spec = _find_spec(package2module(package))
    if spec is None:
        raise importlib.metadata.PackageNotFoundError(package)
    if spec.origin is None:
        raise RuntimeError(f'{package} is a namespace package, which has no installed path')
    return osp.dirname(spec.origin)


def patch() -> None:
    """Put the three functions wherever mmengine bound the ``pkg_resources`` ones."""
    import mmengine.config.config  # noqa: F401  (binds is_installed/get_installed_path by name)
    import mmengine.utils.package_utils  # noqa: F401

    for name, replacement in (('is_installed', is_installed), ('get_installed_path', get_installed_path),
                              ('package2module', package2module)):
        replace_everywhere('mmengine.utils.package_utils', name, replacement)
