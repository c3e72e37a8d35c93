"""Register every ssd_npu module and make ``ssd_npu`` mmengine's default scope."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import the modules that register types, as mmdetection's function of that name does.

    Args:
        init_default_scope: make ``ssd_npu`` the current default scope, so that
            ``MODELS.build(dict(type='SSD', ...))`` resolves in our registries.
    """
    import ssd_npu.apis  # noqa: F401
    import ssd_npu.datasets  # noqa: F401
    import ssd_npu.engine  # noqa: F401
    import ssd_npu.evaluation  # noqa: F401
    import ssd_npu.models  # noqa: F401
    import ssd_npu.visualization  # noqa: F401

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
