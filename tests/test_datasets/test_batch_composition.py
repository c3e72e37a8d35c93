"""Every training batch is full, whatever the dataset size and the number of processes: BatchNorm
cannot train on a last batch of one image (SSDLite's 1x1 feature maps)."""

import mmengine.dataset.sampler
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from repo_paths import CONFIGS_DIR

from ssd_npu.datasets import generate_synthetic_coco

CONFIG = CONFIGS_DIR / '_base_' / 'datasets' / 'synthetic_coco.py'
BATCH = 4


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic')
    generate_synthetic_coco(str(root), num_train=2 * BATCH + BATCH - 1, num_val=1, width=64, height=64,
                            min_object=12, max_object=30)
    return root


@pytest.mark.parametrize('world_size', [1, 2])
# Remainders 0, 1 and batch - 1.
@pytest.mark.parametrize('size', [2 * BATCH, 2 * BATCH + 1, 2 * BATCH + BATCH - 1])
def test_every_training_batch_is_full(data_root, size, world_size, monkeypatch):
    cfg = Config.fromfile(str(CONFIG)).train_dataloader
    cfg.update(batch_size=BATCH, num_workers=0, persistent_workers=False)
    cfg.dataset.update(data_root=str(data_root), indices=size, filter_cfg=None,
                       pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                                 dict(type='PackDetInputs')])
    batch_sizes = []
    for rank in range(world_size):
        monkeypatch.setattr(mmengine.dataset.sampler, 'get_dist_info', lambda rank=rank: (rank, world_size))
        loader = Runner.build_dataloader(cfg)
        assert len(loader.dataset) == size
        batch_sizes += [len(batch['inputs']) for batch in loader]
    assert batch_sizes and set(batch_sizes) == {BATCH}
    # The dropped remainder is small: at most one batch per process.
    assert size - len(batch_sizes) * BATCH < BATCH * world_size
