"""The command-line layer: what ``tools/train.py``, ``tools/test.py`` and the run scripts share.

Flags become config entries here (``--amp``, ``--resume``, ``--launcher``...), the old product's
launch variables become torchrun's, and the Runner is built from the result.
"""
from .amp_flags import amp_optim_wrapper
from .arguments import add_common_arguments, build_test_parser, build_train_parser
from .config_from_flags import apply_launch_options, build_runner, setup_test_config, setup_train_config
from .legacy_flags import (
    add_legacy_test_arguments,
    add_legacy_train_arguments,
    translate_legacy_test_flags,
    translate_legacy_train_flags,
)
from .legacy_launch_env import map_legacy_dist_env
from .onnx_test_config import setup_onnx_test_config

__all__ = [
    'add_common_arguments', 'add_legacy_test_arguments', 'add_legacy_train_arguments', 'amp_optim_wrapper',
    'apply_launch_options', 'build_runner', 'build_test_parser', 'build_train_parser',
    'map_legacy_dist_env', 'setup_onnx_test_config', 'setup_test_config', 'setup_train_config',
    'translate_legacy_test_flags', 'translate_legacy_train_flags',
]
