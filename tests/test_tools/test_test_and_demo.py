"""tools/test.py on a trained checkpoint, and the README's first command (the synthetic demo)."""
import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from repo_paths import CONFIGS_DIR

from ssd_npu.utils import free_local_port

REPO = Path(__file__).resolve().parents[2]


def _metrics(log: str) -> dict:
    return dict(re.findall(r'(coco/bbox_mAP\w*): (\d\.\d+)', log))



@pytest.mark.slow
def test_test_py_prints_the_metrics_and_writes_predictions_and_pictures(tmp_path, make_tiny_config, run_tool):
    config = make_tiny_config('train_cfg = dict(max_epochs=1, val_interval=1)\n')
    train_dir = tmp_path / 'train'
    train = run_tool(['python', 'tools/train.py', str(config), '--work-dir', str(train_dir)], tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]

    out, show_dir = tmp_path / 'results.pkl', tmp_path / 'pictures'
    test = run_tool(['python', 'tools/test.py', str(config), str(train_dir / 'epoch_1.pth'),
                     '--work-dir', str(tmp_path / 'test'), '--out', str(out), '--show-dir', str(show_dir)],
                    tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert len(_metrics(test.stdout)) == 6, 'mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l'
    with open(out, 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == 8, 'one entry per validation image'
    assert {'img_id', 'pred_instances'} <= predictions[0].keys()
    assert len(list(show_dir.glob('*.jpg'))) == 8

    # The same evaluation on two processes (gloo): each image counted once, the same numbers.
    distributed = run_tool(['bash', 'tools/dist_test.sh', str(config), str(train_dir / 'epoch_1.pth'), '2',
                            '--work-dir', str(tmp_path / 'dist_test')], tmp_path,
                           env=dict(MASTER_PORT=str(free_local_port())))
    assert distributed.returncode == 0, distributed.stderr[-3000:]
    assert _metrics(distributed.stdout) == _metrics(test.stdout)


def test_test_py_refuses_a_checkpoint_that_runs_code(tmp_path, make_tiny_config, run_tool):
    class Payload:
        def __reduce__(self):
            return os.system, (f'touch {tmp_path / "pwned"}',)

    checkpoint = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': Payload()}, checkpoint)
    config = make_tiny_config()
    result = run_tool(['python', 'tools/test.py', str(config), str(checkpoint), '--work-dir', str(tmp_path)],
                      tmp_path)
    assert result.returncode == 1
    assert str(checkpoint) in result.stderr
    assert not (tmp_path / 'pwned').exists()


@pytest.mark.slow
@pytest.mark.longest
def test_readme_demo_trains_to_half_map_on_the_synthetic_data(tmp_path, run_tool):
    """The README's first command on a fresh folder: generate, train, evaluate, draw; then the trained
    model as fp32 and int8 ONNX files (~13 min on one thread of a 2-core AMD EPYC, beside the other
    tests)."""
    result = run_tool(['python', str(REPO / 'tools' / 'demo_synthetic.py'), '--config',
                       str(CONFIGS_DIR / 'synthetic_demo.py'), '--work-dir', 'work_dirs/demo'],
                      tmp_path, run_in=tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (tmp_path / 'data' / 'synthetic' / 'annotations' / 'instances_val.json').exists()
    match = re.search(r'bbox mAP on the validation split: (\d\.\d+)', result.stdout)
    assert match and float(match.group(1)) >= 0.5, result.stdout[-2000:]
    assert (tmp_path / 'work_dirs' / 'demo' / 'demo_detections.jpg').stat().st_size > 0
    _int8_file_evaluates_within_0_01_map_of_fp32(tmp_path, run_tool)


def _int8_file_evaluates_within_0_01_map_of_fp32(demo_dir: Path, run_tool) -> None:
    """The demo model exported, quantized to int8 on 32 calibration images and both files evaluated by
    tools/test.py (docs/deployment.md: fp32 0.672, int8 0.668 on a 2-core AMD EPYC)."""
    config, checkpoint = CONFIGS_DIR / 'synthetic_demo.py', demo_dir / 'work_dirs' / 'demo' / 'epoch_30.pth'
    fp32, int8 = demo_dir / 'demo.onnx', demo_dir / 'demo_int8.onnx'
    steps = [['tools/deployment/export_onnx.py', str(config), str(checkpoint), '--out', str(fp32)],
             ['tools/deployment/quantize_onnx.py', str(config), str(fp32), '--out', str(int8),
              '--calib-images', '32']]
    for step in steps:
        result = run_tool(['python', str(REPO / step[0]), *step[1:]], demo_dir, run_in=demo_dir)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    metrics = {}
    for model in (fp32, int8):
        result = run_tool(['python', str(REPO / 'tools' / 'test.py'), str(config), str(model), '--work-dir',
                           str(demo_dir / 'test' / model.stem)], demo_dir, run_in=demo_dir)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        metrics[model] = {key: float(value) for key, value in _metrics(result.stdout).items()}
    assert len(metrics[int8]) == 6 and metrics[int8].keys() == metrics[fp32].keys()
    assert metrics[int8]['coco/bbox_mAP'] >= 0.5
    assert abs(metrics[int8]['coco/bbox_mAP'] - metrics[fp32]['coco/bbox_mAP']) <= 0.01, metrics
