"""An overflow seen by one rank only makes every rank skip that step (the 910A's case)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name('overflow_worker.py')
REPO = Path(__file__).resolve().parents[3]


def _train_two_ranks(tmp_path: Path, sync: bool) -> list:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1', SSD_NPU_DEVICE='cpu')
    store = tmp_path / f'store_{int(sync)}'
    ranks = [subprocess.Popen([sys.executable, str(WORKER), str(rank), '2', str(store), '0', str(int(sync))],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for rank in range(2)]
    results = []
    for process in ranks:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return sorted(results, key=lambda result: result['rank'])


@pytest.mark.slow
def test_both_ranks_skip_the_step_one_rank_overflowed_and_stay_identical(tmp_path):
    rank0, rank1 = _train_two_ranks(tmp_path, sync=True)
    assert rank0['steps_taken'] == rank1['steps_taken'] == [0, 1, 3]
    assert rank0['scale'] == rank1['scale'] == 2.0 ** 15
    assert (rank0['weight'], rank0['bias']) == (rank1['weight'], rank1['bias'])  # bit for bit


@pytest.mark.slow
def test_without_the_agreement_the_replicas_diverge(tmp_path):
    rank0, rank1 = _train_two_ranks(tmp_path, sync=False)
    assert rank0['steps_taken'] == [0, 1, 3] and rank1['steps_taken'] == [0, 1, 2, 3]
    assert rank0['weight'] != rank1['weight']
