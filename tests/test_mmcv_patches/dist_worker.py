"""One rank of the distributed tests: ``python dist_worker.py SCENARIO [LAUNCHER]``.

Starts the process group the way ``tools/train.py --launcher LAUNCHER`` does (the old product's
variables mapped, then mmengine's ``init_dist(LAUNCHER)`` with its default backend 'nccl'; LAUNCHER
defaults to pytorch), runs the scenario and prints one JSON line of results.
"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.dist import get_rank, get_world_size, init_dist
from mmengine.model import MMDistributedDataParallel

import ssd_npu  # noqa: F401  (applies mmcv_patches)
from ssd_npu.cli import map_legacy_dist_env


def all_reduce() -> dict:
    value = torch.tensor([float(get_rank() + 1)])
    dist.all_reduce(value)
    return dict(sum=value.item())


def ddp_gradients() -> dict:
    """Gradients of a DDP-wrapped CPU model (built as Runner.wrap_model builds it) and of a local copy."""
    inputs = torch.full((2, 3), float(get_rank() + 1))
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    ddp = MMDistributedDataParallel(module=model, device_ids=[int(os.environ['LOCAL_RANK'])],
                                    broadcast_buffers=False)
    ddp(inputs).sum().backward()
    torch.manual_seed(0)
    local = nn.Linear(3, 1)
    local(inputs).sum().backward()
    return dict(grad=model.weight.grad.tolist(), local_grad=local.weight.grad.tolist(),
                device_ids=ddp.device_ids, broadcast_buffers=ddp.broadcast_buffers)


def dead_peer() -> dict:
    """Rank 1 never joins the collective; rank 0 must fail after the timeout instead of waiting."""
    if get_rank() == 1:
        time.sleep(60)
        return {}
    start = time.monotonic()
    try:
        dist.all_reduce(torch.ones(1))
    except RuntimeError as error:
        return dict(error=str(error)[:300], seconds=time.monotonic() - start)
    return dict(error=None, seconds=time.monotonic() - start)


if __name__ == '__main__':
    map_legacy_dist_env()
    init_dist(sys.argv[2] if len(sys.argv) > 2 else 'pytorch')
    result = dict(rank=get_rank(), world_size=get_world_size(), backend=dist.get_backend(),
                  local_rank=int(os.environ['LOCAL_RANK']), master_addr=os.environ['MASTER_ADDR'])
    result.update({'all_reduce': all_reduce, 'ddp': ddp_gradients, 'dead_peer': dead_peer}[sys.argv[1]]())
    print(json.dumps(result), flush=True)
    # no destroy_process_group: after a timeout it would wait for the dead peer
    os._exit(0)
