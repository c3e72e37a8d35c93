from . import (  # noqa: F401
    backbones,
    data_preprocessors,
    dense_heads,
    detectors,
    layers,
    necks,
    task_modules,
    test_time_augs,
)
