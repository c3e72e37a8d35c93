"""Fixtures: mmengine Runners training a toy model on CPU, and a launcher of distributed ranks."""
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Optional

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from ssd_npu.utils import free_local_port

WORKER = Path(__file__).with_name('dist_worker.py')
_runner_ids = itertools.count()
LAUNCH_VARIABLES = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'RANK_SIZE', 'NPUID',
                    'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_NODELIST', 'OMPI_COMM_WORLD_RANK',
                    'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK')


class ToyModel(BaseModel):
    """y = linear(x) on 2 features, mean squared error."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor, mode: str = 'tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=F.mse_loss(out.float(), labels))
        return out


class ToyDataset(Dataset):
    """8 samples x = (i/8, i/8), y = i/8."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        value = index / 8
        return dict(inputs=torch.full((2,), value), labels=torch.tensor([value]))


@pytest.fixture(scope='session')
def make_runner() -> Callable[..., Runner]:
    """Runner(work_dir, max_epochs, **overrides): SGD with momentum, a MultiStepLR decay after epoch 1,
    fp16 AMP (``AmpOptimWrapper`` of ssd_npu's scope), a checkpoint and a log line every epoch/iteration."""

    def build(work_dir: Path, max_epochs: int, optim_wrapper: Optional[dict] = None, **overrides) -> Runner:
        torch.manual_seed(0)
        cfg = dict(
            model=ToyModel(),
            work_dir=str(work_dir),
            experiment_name=f'toy_{next(_runner_ids)}',
            train_dataloader=dict(dataset=ToyDataset(), sampler=dict(type='DefaultSampler', shuffle=False),
                                  batch_size=4, collate_fn=dict(type='default_collate')),
            optim_wrapper=optim_wrapper or dict(type='AmpOptimWrapper', dtype='float16',
                                                optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
            param_scheduler=dict(type='MultiStepLR', milestones=[1], by_epoch=True, end=max_epochs),
            train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
            default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                               logger=dict(type='LoggerHook', interval=1)),
            default_scope='ssd_npu',
            randomness=dict(seed=0),
        )
        cfg.update(overrides)
        return Runner(**cfg)

    return build



@pytest.fixture
def launch_ranks() -> Callable[..., List[dict]]:
    """launch_ranks(scenario, rank_envs, wait_for=None, timeout=600, launcher='pytorch'): start
    ``dist_worker.py`` once per env (plus MASTER_PORT, SSD_NPU_DEVICE=cpu), return the JSON results
    of the ranks waited for (default all); the others are killed."""
    processes: List[subprocess.Popen] = []

    def launch(scenario: str, rank_envs: List[dict], wait_for: Optional[List[int]] = None,
               timeout: float = 600, launcher: str = 'pytorch') -> List[dict]:
        port = str(free_local_port())
        for rank_env in rank_envs:
            env = {key: value for key, value in os.environ.items() if key not in LAUNCH_VARIABLES}
            env.update(MASTER_PORT=port, SSD_NPU_DEVICE='cpu', OMP_NUM_THREADS='1', **rank_env)
            processes.append(subprocess.Popen([sys.executable, str(WORKER), scenario, launcher], env=env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        results = []
        for rank in (range(len(rank_envs)) if wait_for is None else wait_for):
            stdout, stderr = processes[rank].communicate(timeout=timeout)
            assert processes[rank].returncode == 0, stderr[-3000:]
            results.append(json.loads(stdout.strip().splitlines()[-1]))
        return results

    yield launch
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
