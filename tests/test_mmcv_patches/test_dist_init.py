import datetime

import mmengine.dist.utils
import pytest
import torch
import torch.distributed as torch_dist

import mmcv_patches
from mmcv_patches import dist_utils
from mmcv_patches.dist_utils import dist_timeout

mmcv_patches.apply()


def test_two_cpu_ranks_start_with_mmengine_init_dist_and_all_reduce(launch_ranks):
    results = launch_ranks('all_reduce', [dict(RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank),
                                               MASTER_ADDR='127.0.0.1') for rank in range(2)])
    assert [(r['rank'], r['world_size'], r['backend'], r['sum']) for r in results] == [
        (0, 2, 'gloo', 3.0), (1, 2, 'gloo', 3.0)]


def test_slurm_launcher_on_cpu_two_local_ranks(launch_ranks, monkeypatch):
    # what srun sets for 2 tasks on one node; no scontrol needed when MASTER_ADDR is exported
    envs = [dict(SLURM_PROCID=str(rank), SLURM_NTASKS='2', SLURM_LOCALID=str(rank),
                 SLURM_NODELIST='localhost', MASTER_ADDR='127.0.0.1') for rank in range(2)]
    results = launch_ranks('all_reduce', envs, launcher='slurm')
    assert [(r['rank'], r['world_size'], r['backend'], r['local_rank'], r['sum']) for r in results] == [
        (0, 2, 'gloo', 0, 3.0), (1, 2, 'gloo', 1, 3.0)]


def test_mpi_launcher_on_cpu_two_local_ranks(launch_ranks):
    envs = [dict(OMPI_COMM_WORLD_RANK=str(rank), OMPI_COMM_WORLD_SIZE='2',
                 OMPI_COMM_WORLD_LOCAL_RANK=str(rank), MASTER_ADDR='127.0.0.1') for rank in range(2)]
    results = launch_ranks('all_reduce', envs, launcher='mpi')
    assert [(r['rank'], r['backend'], r['sum']) for r in results] == [(0, 'gloo', 3.0), (1, 'gloo', 3.0)]


def test_mmengine_slurm_launcher_fails_on_a_cpu_host(single_rank_env, monkeypatch):
    for name, value in dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_NODELIST='localhost').items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv('SLURM_LOCALID', raising=False)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 0)
    monkeypatch.setattr(torch_dist, 'init_process_group', lambda **kwargs: None)
    with mmcv_patches.unpatched('mmengine.dist.utils._init_dist_slurm'), pytest.raises(ZeroDivisionError):
        mmengine.dist.utils.init_dist('slurm', backend='gloo')  # proc_id % torch.cuda.device_count()


def test_slurm_without_master_addr_or_scontrol_says_what_is_missing(single_rank_env, monkeypatch):
    for name, value in dict(SLURM_PROCID='0', SLURM_NTASKS='1', SLURM_NODELIST='node[1-2]', PATH='').items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv('MASTER_ADDR', raising=False)
    with pytest.raises(RuntimeError, match='MASTER_ADDR or scontrol'):
        dist_utils.init_dist_slurm('gloo')


def test_a_dead_peer_makes_the_collective_fail_after_the_timeout(launch_ranks):
    envs = [dict(RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank), SSD_NPU_DIST_TIMEOUT='2')
            for rank in range(2)]
    result, = launch_ranks('dead_peer', envs, wait_for=[0])
    assert result['error'] is not None and 'timed out' in result['error'].lower()
    assert 1.5 < result['seconds'] < 20


def test_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv('SSD_NPU_DIST_TIMEOUT', raising=False)
    assert dist_timeout() == datetime.timedelta(seconds=1800)
    monkeypatch.setenv('SSD_NPU_DIST_TIMEOUT', '90')
    assert dist_timeout() == datetime.timedelta(seconds=90)
    monkeypatch.setenv('SSD_NPU_DIST_TIMEOUT', 'soon')
    with pytest.raises(ValueError, match='SSD_NPU_DIST_TIMEOUT'):
        dist_timeout()


@pytest.fixture
def single_rank_env(monkeypatch):
    for name, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', SSD_NPU_DEVICE='cpu').items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv('SSD_NPU_DIST_TIMEOUT', raising=False)
    # init_dist would make 'spawn' this test process's start method for good
    monkeypatch.setattr(mmengine.dist.utils.mp, 'set_start_method', lambda *args, **kwargs: None)


def test_nccl_config_on_cpu_uses_gloo_without_touching_cuda(single_rank_env, monkeypatch):
    calls = []
    monkeypatch.setattr(torch_dist, 'init_process_group', lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(torch.cuda, 'set_device', lambda device: pytest.fail('cuda.set_device on a CPU run'))
    mmengine.dist.utils.init_dist('pytorch', backend='nccl')
    assert calls == [dict(backend='gloo', rank=0, world_size=1, timeout=datetime.timedelta(seconds=1800))]


def test_auto_backend_is_the_devices(single_rank_env, monkeypatch):
    calls = []
    monkeypatch.setattr(torch_dist, 'init_process_group', lambda **kwargs: calls.append(kwargs['backend']))
    mmengine.dist.utils.init_dist('pytorch', backend='auto')
    assert calls == ['gloo']


def test_mmengine_launcher_sets_a_cuda_device_on_cpu_runs(single_rank_env, monkeypatch):
    monkeypatch.setattr(torch_dist, 'init_process_group', lambda **kwargs: None)
    cuda_devices = []
    monkeypatch.setattr(torch.cuda, 'set_device', cuda_devices.append)
    with mmcv_patches.unpatched('mmengine.dist.utils._init_dist_pytorch'):
        mmengine.dist.utils.init_dist('pytorch', backend='nccl')
    assert cuda_devices == [0]  # what fails on a host without CUDA


def test_missing_launch_variables_are_named(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'RANK_SIZE', 'NPUID'):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match='RANK'):
        dist_utils.init_dist_pytorch('gloo')
