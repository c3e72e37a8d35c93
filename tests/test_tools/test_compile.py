"""``--compile`` / ``compile=...`` on tools/train.py and tools/test.py, as a user runs them."""
import re

import pytest

from mmcv_patches.checkpoint import safe_load

# aot_eager: TorchDynamo + AOTAutograd with eager kernels. Graph breaks and recompilations are
# Dynamo's decisions, whatever the backend; Inductor's numbers are checked in test_graph_mode.py.
COMPILE = ['--compile', '--cfg-options', 'compile.backend=aot_eager', 'model.train_cfg.gt_pad_size=16']
# One epoch with its validation: training and testing (no autograd) graphs both run.
ONE_EPOCH = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']


@pytest.mark.slow
def test_compiled_training_has_no_graph_break_and_tests_like_eager(tmp_path, make_tiny_config, run_tool):
    config = str(make_tiny_config())
    env = {'TORCH_LOGS': 'graph_breaks,recompiles'}
    work_dir = tmp_path / 'compiled'
    trained = run_tool(['python', 'tools/train.py', config, '--work-dir', str(work_dir), '--seed', '0']
                       + COMPILE + ONE_EPOCH, tmp_path, env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    log = trained.stdout + trained.stderr
    assert 'Compiled the normalisation, loss and prediction regions' in log
    assert 'Graph break' not in log
    # Training and validation (no autograd) each compile once; at most a few guard-driven recompilations.
    assert len(re.findall(r'Recompiling function', log)) <= 3
    assert safe_load(str(work_dir / 'epoch_1.pth'))['state_dict']

    checkpoint = str(work_dir / 'epoch_1.pth')
    maps = []
    for extra in ([], COMPILE):
        tested = run_tool(['python', 'tools/test.py', config, checkpoint, '--work-dir', str(tmp_path / 't')]
                          + extra, tmp_path)
        assert tested.returncode == 0, tested.stderr[-3000:]
        maps.append(float(re.findall(r'bbox_mAP: (-?[\d.]+)', tested.stdout + tested.stderr)[0]))
    assert maps[1] == pytest.approx(maps[0], abs=0.002)
