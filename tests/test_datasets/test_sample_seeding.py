"""A sample's augmentation is a function of (seed, epoch, index): the same in the main process and
in persistent dataloader workers, different between epochs and between repeats of an image."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from ssd_npu.datasets import DefaultSampler, RepeatDataset, SyntheticCocoDataset, generate_synthetic_coco
from ssd_npu.engine.hooks.bad_sample_report_hook import iter_datasets
from ssd_npu.setup_env import register_all_modules

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=[123.675, 116.28, 103.53], to_rgb=True, ratio_range=(1, 2)),
    dict(type='Resize', scale=(48, 48), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackDetInputs'),
]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    register_all_modules()
    root = tmp_path_factory.mktemp('synthetic')
    generate_synthetic_coco(str(root), num_train=3, num_val=1, width=64, height=64, min_object=12,
                            max_object=30)
    return RepeatDataset(times=2, dataset=SyntheticCocoDataset(
        data_root=str(root), ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
        pipeline=PIPELINE))


def set_epoch(dataset, seed: int, epoch: int) -> None:
    for inner in iter_datasets(dataset):
        if hasattr(inner, 'sample_seed'):
            inner.sample_seed.set(seed, epoch)


def run_epochs(dataset, num_workers: int, epochs: int = 2) -> list:
    """The augmented images of every index, per epoch, through a DataLoader."""
    loader = DataLoader(dataset, batch_size=1, shuffle=False, num_workers=num_workers,
                        collate_fn=pseudo_collate, persistent_workers=num_workers > 0)
    images = []
    for epoch in range(epochs):
        set_epoch(dataset, seed=5, epoch=epoch)
        images.append([batch['inputs'][0] for batch in loader])
    return images


def test_augmentation_is_the_same_in_the_main_process_and_in_persistent_workers(dataset):
    in_main, in_workers = run_epochs(dataset, 0), run_epochs(dataset, 2)
    for epoch in range(2):
        for a, b in zip(in_main[epoch], in_workers[epoch]):
            assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(in_main[0], in_main[1])), 'epochs differ'
    # Index i and i + 3 are the same image in two passes of RepeatDataset: augmented differently.
    assert not torch.equal(in_main[0][0], in_main[0][3])


def test_seeding_leaves_the_callers_random_state_alone(dataset):
    set_epoch(dataset, seed=5, epoch=0)
    np.random.seed(1)
    before = np.random.get_state()[1].copy(), torch.get_rng_state()
    dataset[0]
    after = np.random.get_state()[1], torch.get_rng_state()
    assert np.array_equal(before[0], after[0]) and torch.equal(before[1], after[1])


def test_sampler_skips_the_first_indices_of_the_next_epoch_only(dataset):
    sampler = DefaultSampler(dataset, shuffle=True, seed=3)
    full = list(sampler)
    sampler.skip_at_next_epoch_start(4)
    assert list(sampler) == full[4:]
    assert list(sampler) == full
