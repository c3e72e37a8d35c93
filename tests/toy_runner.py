"""A toy detector-shaped model and dataset, so hooks and the command line's error handling run inside a real
mmengine Runner (fixtures ``toy_dataset`` and ``make_runner``, offered to every test by tests/conftest.py)."""
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from ssd_npu.structures import DetDataSample


class ToyDataset(Dataset):
    """Sample ``i`` is the scalar ``i``; indices in ``nan_indices`` make the model's loss NaN."""

    metainfo = dict(classes=('thing',))

    def __init__(self, length: int = 8, nan_indices: tuple = ()):
        self.length = length
        self.nan_indices = set(nan_indices)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        value = float('nan') if index in self.nan_indices else float(index)
        sample = DetDataSample(metainfo=dict(img_path=f'images/{index:04d}.jpg'))
        return dict(inputs=torch.tensor([value]), data_samples=sample)


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        inputs = torch.stack(inputs)
        prediction = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((prediction - inputs) ** 2).mean())
        return prediction


@pytest.fixture
def toy_dataset():
    return ToyDataset


@pytest.fixture
def make_runner(tmp_path):
    made = []

    def make(dataset: Dataset, hooks: list, max_epochs: int = 1, **kwargs) -> Runner:
        made.append(dataset)
        # A unique experiment name: runners made within the same second would otherwise share
        # one logger (named after the timestamp) and one log file.
        settings = dict(
            experiment_name=f'toy_{tmp_path.name}_{len(made)}',
            model=ToyModel(), work_dir=str(tmp_path / 'work'),
            train_dataloader=dict(dataset=dataset, batch_size=2, num_workers=0,
                                  sampler=dict(type='DefaultSampler', shuffle=False),
                                  collate_fn=dict(type='pseudo_collate')),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
            custom_hooks=hooks, default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
            default_scope='ssd_npu', randomness=dict(seed=0))
        return Runner(**{**settings, **kwargs})

    return make
