"""Reading configs: the one loader, ``mmdet::`` bases, 2.x conversion and the datasets inside."""
from .datasets import (
           dataset_meta_from_config,
           input_size_from_config,
           leaf_datasets,
           set_data_root,
           test_dataset_cfg,
)
from .legacy_config import is_legacy_config, upgrade_config
from .loader import load_config, use_our_scope
from .package_bases import resolved_package_bases
from .test_time_aug import apply_test_time_aug, flip_tta_pipeline

__all__ = ['apply_test_time_aug', 'dataset_meta_from_config', 'flip_tta_pipeline', 'input_size_from_config',
           'is_legacy_config', 'leaf_datasets', 'load_config', 'resolved_package_bases', 'set_data_root',
           'test_dataset_cfg', 'upgrade_config', 'use_our_scope']
