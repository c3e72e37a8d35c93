import datetime

import mmengine.dist.utils
import pytest
import torch
import torch.distributed as torch_dist

import mmcv_patches
from mmcv_patches import dist_utils
from mmcv_patches.dist_utils import dist_timeout, map_legacy_dist_env

mmcv_patches.apply()


def test_two_cpu_ranks_start_with_mmengine_init_dist_and_all_reduce(launch_ranks):
    results = launch_ranks('all_reduce', [dict(RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank),
                                               MASTER_ADDR='127.0.0.1') for rank in range(2)])
    assert [(r['rank'], r['world_size'], r['backend'], r['sum']) for r in results] == [
        (0, 2, 'gloo', 3.0), (1, 2, 'gloo', 3.0)]


def test_a_dead_peer_makes_the_collective_fail_after_the_timeout(launch_ranks):
    envs = [dict(RANK=str(rank), WORLD_SIZE='2', LOCAL_RANK=str(rank), SSD_NPU_DIST_TIMEOUT='2')
            for rank in range(2)]
    result, = launch_ranks('dead_peer', envs, wait_for=[0])
    assert result['error'] is not None and 'timed out' in result['error'].lower()
    assert 1.5 < result['seconds'] < 20


def test_old_product_launch_variables_are_mapped():
    env = dict(RANK='3', RANK_SIZE='8', NPUID='3')
    map_legacy_dist_env(env)
    assert env == dict(RANK='3', RANK_SIZE='8', NPUID='3', WORLD_SIZE='8', LOCAL_RANK='3',
                       MASTER_ADDR='127.0.0.1', MASTER_PORT='29500')


def test_torchrun_variables_win_over_old_ones():
    env = dict(RANK='1', WORLD_SIZE='2', LOCAL_RANK='0', RANK_SIZE='8', NPUID='5', MASTER_ADDR='10.0.0.1',
               MASTER_PORT='1234')
    map_legacy_dist_env(env)
    assert (env['WORLD_SIZE'], env['LOCAL_RANK'], env['MASTER_ADDR'], env['MASTER_PORT']) == (
        '2', '0', '10.0.0.1', '1234')


def test_local_rank_falls_back_to_rank_and_nothing_is_set_outside_a_launch():
    env = dict(RANK='2', RANK_SIZE='4')
    map_legacy_dist_env(env)
    assert env['LOCAL_RANK'] == '2'
    empty: dict = {}
    map_legacy_dist_env(empty)
    assert empty == {}


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
    mmcv_patches.ORIGINALS['mmengine.dist.utils._init_dist_pytorch']('nccl')
    assert cuda_devices == [0]  # what fails on a host without CUDA


def test_missing_launch_variables_are_named(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'RANK_SIZE', 'NPUID'):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match='RANK'):
        dist_utils.init_dist_pytorch('gloo')
