from . import backbones, data_preprocessors, dense_heads, detectors, layers, necks, task_modules  # noqa: F401
