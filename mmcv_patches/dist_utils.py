"""Process-group start-up on npu (hccl), cuda (nccl) and cpu (gloo) for mmengine's launchers.

Replaces ``mmengine.dist.utils._init_dist_pytorch``, ``_init_dist_slurm`` and ``_init_dist_mpi``
(what ``init_dist(launcher)`` and ``Runner(launcher=...)`` call). mmengine 0.10.7's versions:

* call ``torch.cuda.set_device`` unconditionally (pytorch: when no NPU/MLU/MUSA is found; slurm and
  mpi: always), which fails on a CPU host; the slurm launcher without ``SLURM_LOCALID`` even
  divides by ``torch.cuda.device_count()``, zero there. The device is now set only for cuda and
  npu (not fixed upstream as of mmengine 0.10.7; no upstream report found);
* use the backend from the config (``dist_cfg=dict(backend='nccl')`` in mmdetection's configs)
  whatever the device; the backend now follows ``mmengine.device.get_device()`` (see
  :mod:`.device`) unless the configured one serves that device;
* without a timeout a dead rank leaves the others blocked in a collective forever; the
  timeout is ``dist_cfg.timeout`` or ``$SSD_NPU_DIST_TIMEOUT`` seconds (default 1800).

The launchers' variables: pytorch reads torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``;
slurm ``SLURM_PROCID``/``SLURM_NTASKS``/``SLURM_LOCALID`` (``MASTER_ADDR`` from the environment,
else the first host of ``SLURM_NODELIST`` by ``scontrol``); mpi Open MPI's
``OMPI_COMM_WORLD_RANK``/``_SIZE``/``_LOCAL_RANK`` with ``MASTER_ADDR`` from the environment.
Other ``init_backend``s (deepspeed, colossalai) go to mmengine's originals.
"""
import datetime
import os
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log

from ._patching import ORIGINALS, replace_everywhere

TIMEOUT_ENV = 'SSD_NPU_DIST_TIMEOUT'
DEFAULT_TIMEOUT_S = 1800
# The collective library of each device: HCCL is Ascend's, NCCL NVIDIA's, gloo runs on CPU tensors.
DEVICE_BACKENDS = {'npu': 'hccl', 'cuda': 'nccl', 'cpu': 'gloo'}
# Backends that can carry each device's tensors: gloo handles CPU tensors anywhere (and CUDA
# tensors for some collectives); HCCL is the only one for NPU tensors.
_SERVING_BACKENDS = {'npu': ('hccl',), 'cuda': ('nccl', 'gloo', 'mpi'), 'cpu': ('gloo', 'mpi')}
_MODULE = 'mmengine.dist.utils'


def dist_timeout() -> datetime.timedelta:
    """The collective timeout: ``$SSD_NPU_DIST_TIMEOUT`` seconds, default 1800."""
    value = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ValueError(f'{TIMEOUT_ENV}={value!r}: expected a positive number of seconds')
    return datetime.timedelta(seconds=seconds)


def _env_int(name: str, launcher: str) -> int:
    value = os.environ.get(name)
    if value is None or not value.lstrip('-').isdigit():
        raise RuntimeError(f'the {launcher} launcher needs the environment variable {name} (an integer), '
                           f'got {value!r}. Start with torchrun (pytorch), srun (slurm) or mpirun (mpi), or '
                           'set RANK, WORLD_SIZE and LOCAL_RANK and use --launcher pytorch.')
    return int(value)


def _device_backend(configured: Optional[str]) -> tuple:
    """(device type, backend): the configured backend unless it cannot serve the device."""
    import mmengine.device.utils

    device = mmengine.device.utils.get_device()
    own = DEVICE_BACKENDS.get(device, configured)
    if configured in (None, 'auto'):
        return device, own
    if device in _SERVING_BACKENDS and configured not in _SERVING_BACKENDS[device]:
        print_log(f'distributed backend {configured!r} cannot serve {device}; using {own!r}',
                  logger='current')
        return device, own
    return device, configured


def start_process_group(rank: int, world_size: int, local_rank: int, backend: Optional[str],
                        **kwargs) -> None:
    """Set the device of ``local_rank`` (cuda and npu only) and start the process group.

    Args:
        rank, world_size, local_rank: this process's place in the job.
        backend: the configured backend (``'auto'``/None: the device's).
        **kwargs: ``torch.distributed.init_process_group``'s; ``timeout`` defaults to
            :func:`dist_timeout`.
    """
    if not 0 <= rank < world_size:
        raise RuntimeError(f'rank {rank} is outside the world size {world_size}')
    device, backend = _device_backend(backend)
    if device == 'cuda':
        torch.cuda.set_device(local_rank)
    elif device == 'npu':
        torch.npu.set_device(local_rank)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(local_rank))
    os.environ.setdefault('MASTER_PORT', '29500')
    if kwargs.get('timeout') is None:
        kwargs['timeout'] = dist_timeout()
    if 'store' not in kwargs and 'init_method' not in kwargs:
        store = attempt_store(world_size, kwargs['timeout'])
        if store is not None:
            kwargs['store'] = store
    torch_dist.init_process_group(backend=backend, rank=rank, world_size=world_size, **kwargs)


def attempt_store(world_size: int, timeout: datetime.timedelta) -> Optional[torch_dist.Store]:
    """torchrun's store with this attempt's key prefix, when the workers use the agent's store.

    Why: with torchrun's default (static) rendezvous the agent hosts one TCPStore for the whole job
    and torch's ``env://`` rendezvous uses it without a per-attempt prefix (torch 2.14's
    ``_create_c10d_store`` assumes a new store per restart). After ``--max-restarts`` restarts the
    worker group, the new ranks then read the dead ranks' gloo addresses from the first attempt and
    hang or fail in ``connectFullMesh``. None outside that case (rank 0 then hosts a fresh store).
    """
    if os.environ.get('TORCHELASTIC_USE_AGENT_STORE') != str(True):
        return None
    attempt = os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')
    store = torch_dist.TCPStore(os.environ['MASTER_ADDR'], int(os.environ['MASTER_PORT']), world_size,
                                is_master=False, timeout=timeout)
    return torch_dist.PrefixStore(f'/worker_group/attempt_{attempt}', store)


def init_dist_pytorch(backend: str = 'nccl', init_backend: str = 'torch', **kwargs) -> None:
    """Replacement of ``mmengine.dist.utils._init_dist_pytorch`` (torchrun's variables)."""
    if init_backend != 'torch':
        ORIGINALS[f'{_MODULE}._init_dist_pytorch'](backend, init_backend=init_backend, **kwargs)
        return
    start_process_group(_env_int('RANK', 'pytorch'), _env_int('WORLD_SIZE', 'pytorch'),
                        _env_int('LOCAL_RANK', 'pytorch'), backend, **kwargs)


def _slurm_master_addr() -> str:
    if os.environ.get('MASTER_ADDR'):
        return os.environ['MASTER_ADDR']
    node_list = os.environ.get('SLURM_NODELIST', '')
    try:
        hosts = subprocess.run(['scontrol', 'show', 'hostnames', node_list], capture_output=True, text=True,
                               check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(f'the slurm launcher needs MASTER_ADDR or scontrol to resolve SLURM_NODELIST='
                           f'{node_list!r} ({error})') from None
    if not hosts:
        raise RuntimeError(f'scontrol found no host in SLURM_NODELIST={node_list!r}; set MASTER_ADDR')
    return hosts[0]


def init_dist_slurm(backend: str = 'nccl', port: Optional[int] = None, init_backend: str = 'torch',
                    **kwargs) -> None:
    """Replacement of ``mmengine.dist.utils._init_dist_slurm`` (srun's variables).

    ``port`` (or ``MASTER_PORT``, default 29500) is the rendezvous port.
    """
    if init_backend != 'torch':
        ORIGINALS[f'{_MODULE}._init_dist_slurm'](backend, port=port, init_backend=init_backend, **kwargs)
        return
    os.environ['MASTER_ADDR'] = _slurm_master_addr()
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    rank = _env_int('SLURM_PROCID', 'slurm')
    local_rank = int(os.environ['SLURM_LOCALID']) if 'SLURM_LOCALID' in os.environ else rank
    start_process_group(rank, _env_int('SLURM_NTASKS', 'slurm'), local_rank, backend, **kwargs)


def init_dist_mpi(backend: str = 'nccl', **kwargs) -> None:
    """Replacement of ``mmengine.dist.utils._init_dist_mpi`` (Open MPI's variables, ``MASTER_ADDR`` set)."""
    if not os.environ.get('MASTER_ADDR'):
        raise RuntimeError('the mpi launcher needs MASTER_ADDR (the host of rank 0) in the environment')
    start_process_group(_env_int('OMPI_COMM_WORLD_RANK', 'mpi'), _env_int('OMPI_COMM_WORLD_SIZE', 'mpi'),
                        _env_int('OMPI_COMM_WORLD_LOCAL_RANK', 'mpi'), backend, **kwargs)


def patch() -> None:
    """Make mmengine's ``init_dist('pytorch' | 'slurm' | 'mpi')`` call the functions above."""
    import mmengine.dist.utils  # noqa: F401

    for name, replacement in (('_init_dist_pytorch', init_dist_pytorch),
                              ('_init_dist_slurm', init_dist_slurm), ('_init_dist_mpi', init_dist_mpi)):
        replace_everywhere(_MODULE, name, replacement)
