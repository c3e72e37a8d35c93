"""A rank that ends first waits for the others before the process group goes away."""
import json
import os
import subprocess
import sys
from pathlib import Path

from ssd_npu.utils import free_local_port

REPO = Path(__file__).resolve().parents[2]

RANK = '''
import json, os, sys, time
import torch.distributed as dist
from ssd_npu.engine.process_group import leave_process_group

dist.init_process_group('gloo', init_method='env://')
rank, marker = dist.get_rank(), sys.argv[1]
if rank == 0:
    time.sleep(1)  # still writing its checkpoint
    open(marker, 'w').close()
leave_process_group()
print(json.dumps(dict(rank=rank, saw_rank_0_done=os.path.exists(marker),
                      still_in_group=dist.is_initialized())))
'''


def test_every_rank_leaves_after_the_slowest_and_the_group_is_destroyed(tmp_path):
    marker, port = tmp_path / 'rank_0_done', str(free_local_port())
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'WORLD_SIZE': '2', 'MASTER_ADDR': '127.0.0.1',
           'MASTER_PORT': port, 'OMP_NUM_THREADS': '1'}
    ranks = [subprocess.Popen([sys.executable, '-c', RANK, str(marker)], stdout=subprocess.PIPE, text=True,
                              env={**env, 'RANK': str(rank)})
             for rank in range(2)]
    results = [json.loads(rank.communicate(timeout=300)[0].strip().splitlines()[-1]) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0]
    assert results == [dict(rank=0, saw_rank_0_done=True, still_in_group=False),
                       dict(rank=1, saw_rank_0_done=True, still_in_group=False)]

