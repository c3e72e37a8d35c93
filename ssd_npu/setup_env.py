"""Register every ssd_npu type and make ``ssd_npu`` mmengine's default scope.

The layer above every package that registers types (it imports them all), so that a config
naming any of them, ``ONNXDetector`` included, builds however it is loaded.
"""
import datetime
import warnings

from mmengine import DefaultScope

import ssd_npu.datasets  # noqa: F401  (each import registers that package's types)
import ssd_npu.deployment  # noqa: F401
import ssd_npu.engine  # noqa: F401
import ssd_npu.evaluation  # noqa: F401
import ssd_npu.models  # noqa: F401
import ssd_npu.visualization  # noqa: F401


def register_all_modules(init_default_scope: bool = True) -> None:
    """Make every ssd_npu type buildable, as mmdetection's function of that name does.

    The types are registered when this module is imported; calling it sets the scope.

    Args:
        init_default_scope: make ``ssd_npu`` the current default scope, so that
            ``MODELS.build(dict(type='SSD', ...))`` resolves in our registries.
    """
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('ssd_npu', scope_name='ssd_npu')
    elif current.scope_name != 'ssd_npu':
        warnings.warn(f'The current default scope "{current.scope_name}" is not "ssd_npu"; '
                      'switching to a new scope "ssd_npu".', stacklevel=2)
        new_name = f'ssd_npu-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_name, scope_name='ssd_npu')
