"""The exported demo model through the tools: export_onnx.py, test.py and demo.py on the .onnx file,
and ``init_onnx_detector`` + ``inference_detector``, each compared with the PyTorch checkpoint."""
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from detector_fixtures import (
    REPO,
    assert_same_detections,
    random_detector,
    run_script,
    write_quarter_width_demo,
)
from mmengine.structures import InstanceData

from ssd_npu.apis import inference_detector, init_detector, init_onnx_detector
from ssd_npu.datasets import ensure_synthetic_coco
from ssd_npu.deployment import export_onnx

GENERATOR = dict(num_train=4, num_val=8, width=160, height=160)


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """(config, checkpoint, ONNX file (batch 1, simplified), work folder)."""
    folder = tmp_path_factory.mktemp('onnx_tools')
    config = write_quarter_width_demo(folder, GENERATOR)
    ensure_synthetic_coco(str(folder / 'synthetic'), **GENERATOR)
    model = random_detector(config, 192)
    checkpoint = folder / 'random.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': ['circle', 'square', 'triangle']}}}, checkpoint)
    onnx_file = folder / 'tiny.onnx'
    run_script(['tools/deployment/export_onnx.py', str(config), str(checkpoint), '--out', str(onnx_file),
                '--simplify'])
    return config, checkpoint, onnx_file, folder


def evaluate(config: Path, model_file: Path, folder: Path) -> tuple:
    """tools/test.py's bbox mAP line and its dumped predictions."""
    out = folder / f'{model_file.suffix[1:]}.pkl'
    result = run_script(['tools/test.py', str(config), str(model_file), '--work-dir', str(folder / 'test'),
                         '--out', str(out)])
    metrics = dict(re.findall(r'(coco/bbox_mAP\w*): (\d\.\d+)', result.stdout))
    with open(out, 'rb') as file:
        return metrics, pickle.load(file)


def test_test_py_evaluates_the_onnx_file_as_the_checkpoint(exported):
    config, checkpoint, onnx_file, folder = exported
    onnx_metrics, onnx_predictions = evaluate(config, onnx_file, folder)
    torch_metrics, torch_predictions = evaluate(config, checkpoint, folder)
    assert len(onnx_metrics) == 6 and onnx_metrics.keys() == torch_metrics.keys()
    for key, value in torch_metrics.items():
        assert abs(float(onnx_metrics[key]) - float(value)) <= 0.001, key
    # Each image's detections, in original-image pixels, equal the checkpoint's. The tolerances
    # are 10x the export test's: this random quarter-width network amplifies float rounding
    # (onnxruntime's kernels sum in another order than PyTorch's) to a few 1e-3 pixels.
    assert len(onnx_predictions) == 8
    assert sum(len(p['pred_instances']['scores']) for p in onnx_predictions) > 0
    for onnx_pred, torch_pred in zip(onnx_predictions, torch_predictions):
        assert onnx_pred['img_id'] == torch_pred['img_id']
        assert_same_detections(InstanceData(**torch_pred['pred_instances']),
                               InstanceData(**onnx_pred['pred_instances']), box_tol=1e-2, score_tol=1e-4)


def test_inference_detector_takes_the_onnx_model(exported):
    config, checkpoint, onnx_file, folder = exported
    onnx_model = init_onnx_detector(onnx_file, config)
    torch_model = init_detector(config, str(checkpoint))
    assert onnx_model.dataset_meta['classes'] == ('circle', 'square', 'triangle')
    images = sorted((folder / 'synthetic' / 'val').glob('*.jpg'))[:4]
    assert len(images) == 4
    onnx_results = inference_detector(onnx_model, [str(image) for image in images], batch_size=2)
    torch_results = inference_detector(torch_model, [str(image) for image in images], batch_size=2)
    for onnx_result, torch_result in zip(onnx_results, torch_results):
        assert onnx_result.ori_shape == torch_result.ori_shape
        assert_same_detections(torch_result.pred_instances, onnx_result.pred_instances, box_tol=1e-2,
                               score_tol=1e-4)


def test_demo_py_draws_the_onnx_detections(exported):
    config, _, onnx_file, folder = exported
    (image, *_) = sorted((folder / 'synthetic' / 'val').glob('*.jpg'))
    out_file = folder / 'demo.jpg'
    result = run_script(['tools/demo.py', str(image), str(config), str(onnx_file), '--out-file',
                         str(out_file), '--score-thr', '0.05'])
    assert re.search(r'(circle|square|triangle) +0\.\d{3}', result.stdout), result.stdout
    assert out_file.stat().st_size > 0


def test_demo_py_on_a_folder_gives_the_checkpoints_predictions_from_the_onnx_file(exported):
    config, checkpoint, onnx_file, folder = exported
    predictions = {}
    for model_file in (checkpoint, onnx_file):
        out_dir = folder / f'folder_{model_file.suffix[1:]}'
        result = run_script(['tools/demo.py', str(folder / 'synthetic' / 'val'), str(config),
                             str(model_file), '--out-dir', str(out_dir), '--batch-size', '3'])
        assert '8 images at' in result.stdout
        predictions[model_file] = {path.name: json.loads(path.read_text())
                                   for path in sorted((out_dir / 'preds').glob('*.json'))}
        assert len(list((out_dir / 'vis').glob('*.jpg'))) == 8
    assert len(predictions[checkpoint]) == 8
    assert predictions[checkpoint].keys() == predictions[onnx_file].keys()
    for name, expected in predictions[checkpoint].items():
        actual = predictions[onnx_file][name]
        assert_same_detections(InstanceData(**{key: torch.tensor(value) for key, value in expected.items()}),
                               InstanceData(**{key: torch.tensor(value) for key, value in actual.items()}),
                               box_tol=1e-2, score_tol=1e-4)


def test_the_deployment_doc_snippet_runs_the_file_without_ssd_npu_or_torch(exported):
    config, _, onnx_file, folder = exported
    (image, *_) = sorted((folder / 'synthetic' / 'val').glob('*.jpg'))
    deployment_doc = (REPO / 'docs' / 'deployment.md').read_text()
    snippet = deployment_doc.split('<!-- deploy-snippet -->')[1].split('```python\n')[1].split('```')[0]
    snippet = snippet.replace("'ssd300.onnx'", repr(str(onnx_file))).replace("'demo.jpg'", repr(str(image)))
    assert len(snippet.strip().splitlines()) <= 10
    blocked = "import sys\nsys.modules['ssd_npu'] = sys.modules['torch'] = None\n"
    result = subprocess.run([sys.executable, '-c', blocked + snippet], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [line.replace('[', ' ').replace(']', ' ').split() for line in result.stdout.splitlines()]
    expected = inference_detector(init_onnx_detector(onnx_file, config), str(image)).pred_instances
    assert len(printed) == len(expected) > 0
    for (name, score, *box), exp_box, exp_score, exp_label in zip(
            printed, expected.bboxes.tolist(), expected.scores.tolist(), expected.labels.tolist()):
        assert name == ('circle', 'square', 'triangle')[exp_label]
        assert abs(float(score) - exp_score) <= 1e-3
        assert max(abs(float(a) - b) for a, b in zip(box, exp_box)) <= 0.1


def test_the_benchmark_times_eager_and_onnxruntime_on_the_file(exported):
    config, checkpoint, onnx_file, folder = exported
    result = run_script(['tools/benchmarks/benchmark_inference.py', str(config), str(onnx_file),
                         '--batch-size', '1', '--iters', '1', '--warmup', '0', '--threads', '1',
                         '--no-compile', '--json'])
    report = json.loads(result.stdout[result.stdout.index('{'):])
    assert report['batch_size'] == 1
    assert set(report['results']) == {'pytorch_eager', 'onnxruntime'}
    for timing in report['results'].values():
        assert timing['images_per_s'] == pytest.approx(1 / timing['seconds_per_batch'])


def test_export_refuses_an_old_opset_and_a_size_it_cannot_know(exported, tmp_path):
    config, checkpoint, _, _ = exported
    model = init_detector(config, str(checkpoint))
    with pytest.raises(ValueError, match='opset 17 is not supported.*opset 18 or newer'):
        export_onnx(model, tmp_path / 'old.onnx', opset=17)
    model.cfg.test_dataloader.dataset.pipeline[1]['keep_ratio'] = True
    with pytest.raises(ValueError, match=r'Resize\(scale=\(w, h\), keep_ratio=False\).*input_size'):
        export_onnx(model, tmp_path / 'any_size.onnx')
    assert not list(tmp_path.glob('*.onnx'))
