"""Each benchmark command runs on small settings and prints its table (the figures are in the README)."""
import json
import re

import pytest


def test_train_benchmark_splits_the_iteration_with_and_without_data(tmp_path, make_tiny_config, run_tool):
    config = make_tiny_config()
    result = run_tool(['python', 'tools/benchmarks/benchmark_train.py', str(config), '--iters', '1',
                       '--warmup', '0', '--batch-size', '2', '--with-data'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    header = '| source | img/s | s/iter | data | forward | backward | optimizer |'
    assert header in re.sub(r' +', ' ', result.stdout)
    assert re.search(r'\| synthetic batches +\| \d+\.\d+ \|', result.stdout)
    assert re.search(r'\| train dataloader +\| \d+\.\d+ \|', result.stdout)


def test_head_benchmark_compares_ours_and_the_per_image_oracle(tmp_path, run_tool):
    result = run_tool(['python', 'tools/benchmarks/benchmark_head.py', '--batch', '2', '--gts', '3',
                       '--iters', '1', '--backward'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'per-image oracle' in result.stdout and 'ours' in result.stdout
    assert 'max |loss difference| ours vs oracle: 0.00e+00' in result.stdout


def test_post_processing_benchmark_prints_json_with_equal_detections(tmp_path, run_tool):
    result = run_tool(['python', 'tools/benchmarks/benchmark_postprocess.py', '--batch', '2', '--iters', '1',
                       '--json'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['equal_to_oracle'] and report['ms'] > 0 and report['benchmark'] == 'postprocess'


def test_train_benchmark_json(tmp_path, make_tiny_config, run_tool):
    result = run_tool(['python', 'tools/benchmarks/benchmark_train.py', str(make_tiny_config()), '--iters',
                       '1', '--warmup', '0', '--batch-size', '2', '--json'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['img_per_s'] > 0 and report['batch'] == 2 and report['compile'] is False


def test_coco_eval_benchmark_reports_both_backends(tmp_path, run_tool):
    result = run_tool(['python', 'tools/benchmarks/benchmark_coco_eval.py', '--num-images', '20',
                       '--num-classes', '4', '--dets-per-image', '10'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'faster_coco_eval' in result.stdout and 'pycocotools' in result.stdout


@pytest.mark.slow
def test_model_benchmark_runs_ours_beside_torchvision(tmp_path, run_tool):
    result = run_tool(['python', 'tools/benchmarks/benchmark_model.py', '--batch-size', '1', '--iters', '1',
                       '--warmup', '0'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'torchvision' in result.stdout and 'img/s' in result.stdout


def test_startup_benchmark_times_ranks_on_a_generated_coco_layout(tmp_path, run_tool):
    data = tmp_path / 'coco'
    result = run_tool(['python', 'tools/misc/make_coco_sized_annotations.py', '--out', str(data),
                       '--train-images', '300', '--train-boxes', '2100', '--val-images', '20',
                       '--val-boxes', '140', '--jpegs', '2'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    train = json.loads((data / 'annotations' / 'instances_train2017.json').read_text())
    assert (len(train['images']), len(train['annotations']), len(train['categories'])) == (300, 2100, 80)
    assert all((data / 'train2017' / image['file_name']).resolve().is_file() for image in train['images'])

    result = run_tool(['python', 'tools/benchmarks/benchmark_startup.py', 'configs/ssd300_coco.py', str(data),
                       '--nproc', '2', '--workers', '1', '--batches', '2', '--batch-size', '2',
                       '--fresh-cache', '--json'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0 < figures['dataset_s'] <= figures['first_batch_s'] <= figures['last_batch_s']
    assert 0 < figures['pss_mib']['after_first_batch'] <= figures['pss_mib']['peak']


def test_distributed_eval_benchmark_gives_every_world_size_the_same_numbers(tmp_path, run_tool):
    result = run_tool(['python', 'tools/benchmarks/benchmark_distributed_eval.py', '--nproc', '1', '3',
                       '--num-images', '61', '--dets-per-image', '20', '--json'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['same_numbers'] and [run['nproc'] for run in report['runs']] == [1, 3]
    assert 0 < report['runs'][0]['numbers']['coco/bbox_mAP'] < 1
