"""``tools/test.py CONFIG CHECKPOINT --tta`` as in mmdetection 3.x: per-image results in the normal
format, from a checkpoint or an exported ONNX file; with ``--compile`` a one-line refusal."""
import pickle
import re

import pytest


def _map(result) -> float:
    return float(re.findall(r'coco/bbox_mAP: (-?[\d.]+)', result.stdout + result.stderr)[-1])


@pytest.mark.slow
def test_tta_from_a_checkpoint_and_from_onnx(tmp_path, make_tiny_config, run_tool):
    config = str(make_tiny_config())
    trained = run_tool(['python', 'tools/train.py', config, '--work-dir', str(tmp_path / 'w'), '--seed', '0',
                        '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'], tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    checkpoint = str(tmp_path / 'w' / 'epoch_1.pth')

    out = tmp_path / 'tta.pkl'
    tta = run_tool(['python', 'tools/test.py', config, checkpoint, '--tta', '--out', str(out),
                    '--work-dir', str(tmp_path / 't')], tmp_path)
    assert tta.returncode == 0, tta.stderr[-3000:]
    with open(out, 'rb') as file:
        results = pickle.load(file)
    assert len(results) == 8  # the tiny config's validation images, each once
    for result in results:
        boxes = result['pred_instances']['bboxes']
        assert boxes.shape[1] == 4 and len(boxes) <= 200
        assert result['pred_instances']['scores'].shape == result['pred_instances']['labels'].shape
        height, width = result['ori_shape']
        assert (boxes[:, 2] <= width + 1e-3).all() and (boxes[:, 0] >= -1e-3).all()
        assert result['flip'] is False

    onnx = tmp_path / 'model.onnx'
    exported = run_tool(['python', 'tools/deployment/export_onnx.py', config, checkpoint, '--out', str(onnx)],
                        tmp_path)
    assert exported.returncode == 0, exported.stderr[-3000:]
    onnx_tta = run_tool(['python', 'tools/test.py', config, str(onnx), '--tta',
                         '--work-dir', str(tmp_path / 'o')], tmp_path)
    assert onnx_tta.returncode == 0, onnx_tta.stderr[-3000:]
    assert _map(onnx_tta) == pytest.approx(_map(tta), abs=0.002)


def test_tta_with_compile_is_refused_in_one_line(tmp_path, make_tiny_config, run_tool):
    refused = run_tool(['python', 'tools/test.py', str(make_tiny_config()), str(tmp_path / 'missing.pth'),
                        '--tta', '--compile'], tmp_path)
    assert refused.returncode != 0
    assert '--tta runs the eager model' in refused.stderr and 'Traceback' not in refused.stderr
