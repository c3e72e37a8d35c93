import pytest
import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.model import MMDistributedDataParallel

import mmcv_patches
from mmcv_patches import distributed

mmcv_patches.apply()


def test_two_cpu_ranks_wrap_like_the_runner_and_average_gradients(launch_ranks):
    # the old product's launch variables: RANK, RANK_SIZE, NPUID (no WORLD_SIZE/LOCAL_RANK/MASTER_ADDR)
    results = launch_ranks('ddp', [dict(RANK=str(rank), RANK_SIZE='2', NPUID=str(rank)) for rank in range(2)])
    assert [(r['local_rank'], r['master_addr']) for r in results] == [(0, '127.0.0.1'), (1, '127.0.0.1')]
    assert all(r['device_ids'] is None and r['broadcast_buffers'] is False for r in results)
    mean_local = torch.tensor([r['local_grad'] for r in results]).mean(dim=0)
    for result in results:
        torch.testing.assert_close(torch.tensor(result['grad']), mean_local)


@pytest.fixture
def one_rank_group(tmp_path):
    torch_dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    torch_dist.destroy_process_group()


def test_cpu_model_with_device_ids_wraps(one_rank_group):
    model = nn.Linear(2, 1)
    with pytest.raises(ValueError, match='device_ids'):
        mmcv_patches.ORIGINALS[distributed.KEY](
            MMDistributedDataParallel.__new__(MMDistributedDataParallel), module=model, device_ids=[0])
    wrapped = MMDistributedDataParallel(module=model, device_ids=[0])
    assert wrapped.module is model and wrapped.device_ids is None and wrapped.broadcast_buffers is False
    assert MMDistributedDataParallel(module=model, broadcast_buffers=True).broadcast_buffers is True
