"""tools/misc/run_summary.py: the old port's summary lines from a work dir's scalars.json."""
import importlib.util
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location('run_summary', REPO / 'tools' / 'misc' / 'run_summary.py')
run_summary = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_summary)


def _write_scalars(work_dir: Path, timestamp: str, records: list, tail: str = '') -> Path:
    path = work_dir / timestamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(record) + '\n' for record in records) + tail)
    return path


def _train(step: int, img_per_s_all: float) -> dict:
    return dict(lr=0.01, loss=2.0, time=0.5, img_per_s=img_per_s_all / 2, img_per_s_all=img_per_s_all,
                epoch=1, iter=step, step=step)


def test_summary_of_the_newest_run(tmp_path, capsys):
    older = _write_scalars(tmp_path, '20240101_000000', [_train(1, 5.0), {'coco/bbox_mAP': 0.9, 'step': 1}])
    os.utime(older, (1, 1))
    _write_scalars(tmp_path, '20240102_000000', [
        _train(1, 10.0), {'coco/bbox_mAP': 0.1, 'coco/bbox_mAP_50': 0.3, 'step': 1},
        _train(2, 150.0), _train(3, 160.123),
        {'coco/bbox_mAP_50': 0.5, 'coco/bbox_mAP': 0.2514, 'data_time': 0.01, 'step': 2}, _train(4, 170.0),
    ], tail='{"lr": 0.01, "img_per_s_all": 99')  # the last line cut short by a killed process
    run_summary.main([str(tmp_path), '--duration', '123.4'])
    assert capsys.readouterr().out.splitlines() == [
        'Final Performance images/sec : 170.00',  # the last training record, all devices
        'E2E Training Duration sec : 123',
        'Final Train Accuracy : 0.2514',  # the last validation's bbox mAP, not its first metric
    ]


def test_other_metrics_and_runs_without_validation(tmp_path):
    _write_scalars(tmp_path / 'voc', 't', [_train(1, 8.0), {'pascal_voc/mAP': 0.75, 'pascal_voc/AP50': 0.75}])
    assert run_summary.summary_lines(tmp_path / 'voc')[-1] == 'Final Train Accuracy : 0.7500'
    _write_scalars(tmp_path / 'no_val', 't', [_train(1, 8.0)])
    assert run_summary.summary_lines(tmp_path / 'no_val', 5) == [
        'Final Performance images/sec : 8.00', 'E2E Training Duration sec : 5']


def test_a_work_dir_without_scalars_says_so(tmp_path, capsys):
    run_summary.main([str(tmp_path), '--duration', '7'])
    assert capsys.readouterr().out.splitlines() == [
        f'(no {tmp_path}/<timestamp>/vis_data/scalars.json: no logged figures to summarize)',
        'E2E Training Duration sec : 7']
