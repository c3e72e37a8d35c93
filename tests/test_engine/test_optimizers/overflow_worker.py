"""One rank of the overflow agreement test: ``python overflow_worker.py RANK WORLD STORE OVERFLOW_RANK SYNC``.

Trains a DDP-wrapped linear model with ``AmpOptimWrapper`` (fp16 autocast, dynamic scaling) for four
steps on rank-dependent data. At step 2 rank ``OVERFLOW_RANK`` reports an overflow through the
overflow check's ``device_flag``, standing in for the float-status flag a saturating NPU (910A)
raises while its gradients stay finite. ``SYNC=0`` replaces the cross-rank agreement by the rank's
own answer. Prints one JSON line: the weights, the loss scale, the steps the optimizer took.
"""
import json
import sys

import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import ssd_npu  # noqa: F401  (applies mmcv_patches)
from ssd_npu.engine.overflow_check import OverflowCheck
from ssd_npu.engine.process_group import leave_process_group

rank, world, store, overflow_rank, sync = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3],
                                            int(sys.argv[4]), sys.argv[5] == '1')
torch.set_num_threads(1)
dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world)
if not sync:
    OverflowCheck.on_any_rank = lambda self, found_here, device: found_here
torch.manual_seed(0)
model = nn.Linear(4, 2)
ddp = MMDistributedDataParallel(module=model)
with DefaultScope.overwrite_default_scope('ssd_npu'):
    wrapper = build_optim_wrapper(model, dict(type='AmpOptimWrapper', dtype='float16',
                                              optimizer=dict(type='SGD', lr=0.1, momentum=0.9)))
steps_taken = []
current = dict(step=0)
wrapper.overflow_check.device_flag = lambda: rank == overflow_rank and current['step'] == 2
original_step = wrapper.optimizer.step


def counted_step(*args, **kwargs):
    steps_taken.append(current['step'])
    return original_step(*args, **kwargs)


wrapper.optimizer.step = counted_step
generator = torch.Generator().manual_seed(rank)
for current['step'] in range(4):
    inputs = torch.randn(8, 4, generator=generator)
    with wrapper.optim_context(ddp):
        loss = ddp(inputs).float().square().mean()
    wrapper.update_params(loss)
print(json.dumps(dict(rank=rank, weight=model.weight.tolist(), bias=model.bias.tolist(),
                      scale=wrapper.loss_scaler.get_scale(), steps_taken=steps_taken)), flush=True)
leave_process_group()
