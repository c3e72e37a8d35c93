"""tools/analysis_tools/confusion_matrix.py: the counting rules on a hand-made case; the tool end to end."""
import importlib.util
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.evaluator import DumpResults
from mmengine.structures import InstanceData

from ssd_npu.errors import UsageError
from ssd_npu.structures import DetDataSample

REPO = Path(__file__).resolve().parents[2]
CLASSES = ('a', 'b', 'c')
A, B, C = 0, 1, 2

# Four 100x100 images; boxes xyxy pixels. gts: (box, label, ignore_flag); dets: (box, score, label).
IMAGES = [
    dict(gts=[([0, 0, 10, 10], A, 0),          # found by its class
              ([20, 20, 30, 30], B, 0),        # taken for class c
              ([40, 40, 50, 50], C, 0),        # missed: its detection scores under the threshold
              ([60, 60, 70, 70], A, 1)],       # crowd (ignored)
         dets=[([0, 0, 10, 10], 0.9, A),       # match: (a, a)
               ([20, 20, 30, 30], 0.8, C),     # confusion: (b, c)
               ([80, 80, 90, 90], 0.7, B),     # nothing there: (background, b)
               ([40, 40, 50, 50], 0.1, C),     # under --score-thr: left out, so c is missed
               ([60, 60, 70, 70], 0.6, A),     # on the crowd box of its class: left out
               ([0, 0, 10, 11], 0.5, A),       # duplicate of the first: (background, a)
               ([60, 60, 70, 70], 0.95, B)]),  # on a crowd box of another class: (background, b)
    dict(gts=[], dets=[([5, 5, 50, 50], 0.5, C)]),  # no ground truth: (background, c)
    # A box found by its class and overlapped by another class's detection: counted once, on the
    # diagonal; the other detection is a false positive (mmdetection 3.3 would add (c, a) too).
    dict(gts=[([0, 0, 100, 100], C, 0)], dets=[([0, 0, 100, 100], 0.4, C), ([0, 0, 100, 90], 0.9, A)]),
    # Two b boxes side by side: one taken for a; the other overlapped at IoU 0.43 < 0.5 only, so it
    # is missed and the detection is a false positive.
    dict(gts=[([0, 0, 10, 10], B, 0), ([10, 0, 20, 10], B, 0)],
         dets=[([0, 0, 10, 10], 0.9, A), ([14, 0, 24, 10], 0.8, A)]),
]
# Rows ground truth a, b, c, background; columns predicted a, b, c, background.
EXPECTED = [[1, 0, 0, 0],
            [1, 0, 1, 1],
            [0, 0, 1, 1],
            [3, 2, 1, 0]]


def _tool():
    path = REPO / 'tools/analysis_tools/confusion_matrix.py'
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data_infos(img_dir: str) -> list:
    return [dict(img_id=i + 1, img_path=os.path.join(img_dir, f'{i}.jpg'), width=100, height=100,
                 instances=[dict(bbox=box, bbox_label=label, ignore_flag=flag)
                            for box, label, flag in image['gts']])
            for i, image in enumerate(IMAGES)]


def _prediction(i: int, img_path: str) -> dict:
    """One image's entry as tools/test.py --out writes it (mmengine's evaluator: the sample's to_dict())."""
    dets = IMAGES[i]['dets']
    sample = DetDataSample(metainfo=dict(img_id=i + 1, img_path=img_path, ori_shape=(100, 100),
                                         img_shape=(300, 300), scale_factor=(3.0, 3.0)))
    sample.pred_instances = InstanceData(bboxes=torch.tensor([d[0] for d in dets], dtype=torch.float32),
                                         scores=torch.tensor([d[1] for d in dets]),
                                         labels=torch.tensor([d[2] for d in dets], dtype=torch.long))
    return sample.to_dict()


def test_hand_computed_matrix():
    tool = _tool()
    infos = _data_infos('images')
    # In another order than the dataset's (as a distributed test may write them): paired by img_path.
    predictions = [_prediction(i, infos[i]['img_path']) for i in (2, 0, 3, 1)]
    matrix = tool.calculate_confusion_matrix(infos, predictions, num_classes=3, score_thr=0.3, tp_iou_thr=0.5)
    assert matrix.dtype == np.int64 and matrix.tolist() == EXPECTED
    # Each ground-truth box that is not ignored counts once: 6 boxes.
    assert matrix[:3].sum() == 6
    # Paths from another machine: paired by img_id instead.
    moved = [_prediction(i, f'/elsewhere/{i}.jpg') for i in (3, 2, 1, 0)]
    assert tool.calculate_confusion_matrix(infos, moved, 3, 0.3, 0.5).tolist() == EXPECTED
    # A looser IoU threshold turns the 0.43 overlap of the last image into a confusion (b, a).
    looser = tool.calculate_confusion_matrix(infos, predictions, 3, 0.3, 0.4)
    assert looser[B].tolist() == [2, 0, 1, 0] and looser[3].tolist() == [2, 2, 1, 0]


def test_nms_and_score_threshold():
    tool = _tool()
    gt = (np.array([[0, 0, 10, 10]]), np.array([A]), np.array([False]))
    # Two detections of a on the same box (IoU 0.9), and one of b under the score threshold.
    dets = (np.array([[0, 0, 10, 10], [0, 0, 10, 11], [0, 0, 10, 10]]), np.array([0.9, 0.8, 0.2]),
            np.array([A, A, B]))
    plain = tool.image_confusion(*gt, *dets, num_classes=2, score_thr=0.3)
    assert plain.tolist() == [[1, 0, 0], [0, 0, 0], [1, 0, 0]]  # the duplicate is a false positive
    with_nms = tool.image_confusion(*gt, *dets, num_classes=2, score_thr=0.3, nms_iou_thr=0.5)
    assert with_nms.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    # A score at the threshold is kept; with no detection left the box is missed.
    assert tool.image_confusion(*gt, *dets, num_classes=2, score_thr=0.2)[A].tolist() == [1, 0, 0]
    assert tool.image_confusion(*gt, *dets, num_classes=2, score_thr=0.95)[A].tolist() == [0, 0, 1]


def test_start_up_mistakes(tmp_path):
    tool = _tool()
    for thresholds in [(1.5, 0.5, None), (0.3, 0.0, None), (0.3, 0.5, 2.0)]:
        with pytest.raises(UsageError, match='must be'):
            tool.check_thresholds(*thresholds)
    with pytest.raises(UsageError, match='Did you mean: viridis'):
        tool.check_color_theme('viridiss')
    infos = _data_infos('images')
    with pytest.raises(UsageError, match='3 predictions but the test dataset has 4 images'):
        tool.calculate_confusion_matrix(infos, [_prediction(i, infos[i]['img_path']) for i in range(3)], 3)
    strangers = [_prediction(i, f'/elsewhere/{i}.jpg') for i in range(4)]
    strangers[0]['img_id'] = 99
    with pytest.raises(UsageError, match="img_id=99, img_path='/elsewhere/0.jpg' is not in it"):
        tool.calculate_confusion_matrix(infos, strangers, 3)
    with pytest.raises(UsageError, match='predictions file not found'):
        tool.load_predictions(str(tmp_path / 'missing.pkl'))

    class Payload:  # a pickle that would run a command when loaded
        def __reduce__(self):
            return os.system, (f'touch {tmp_path / "pwned"}',)

    evil = tmp_path / 'evil.pkl'
    evil.write_bytes(pickle.dumps([dict(pred_instances=Payload())]))
    with pytest.raises(UsageError, match='could run code'):
        tool.load_predictions(str(evil))
    assert not (tmp_path / 'pwned').exists()


def _write_coco(root: Path) -> None:
    """IMAGES as a COCO annotation file (no image files: the tool reads the annotations only)."""
    images, annotations = [], []
    for i, image in enumerate(IMAGES):
        images.append(dict(id=i + 1, file_name=f'{i}.jpg', width=100, height=100))
        for box, label, crowd in image['gts']:
            x1, y1, x2, y2 = box
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=label + 1,
                                    bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                                    iscrowd=crowd))
    categories = [dict(id=k + 1, name=name) for k, name in enumerate(CLASSES)]
    root.mkdir(parents=True)
    (root / 'ann.json').write_text(json.dumps(dict(images=images, annotations=annotations,
                                                   categories=categories)))


def test_tool_writes_the_matrix_and_the_picture(tmp_path, run_tool):
    data = tmp_path / 'data'
    _write_coco(data)
    config = tmp_path / 'cm_cfg.py'
    config.write_text(f"""
default_scope = 'ssd_npu'
test_dataloader = dict(dataset=dict(
    type='CocoDataset', data_root='{data}/', ann_file='ann.json', data_prefix=dict(img='images/'),
    metainfo=dict(classes={CLASSES!r}), test_mode=True, pipeline=[]))
""")
    predictions = tmp_path / 'results.pkl'
    dump = DumpResults(out_file_path=str(predictions))  # what tools/test.py --out uses
    dump.process(None, [_prediction(i, str(data / 'images' / f'{i}.jpg')) for i in (1, 3, 0, 2)])
    dump.compute_metrics(dump.results)
    out_dir = tmp_path / 'cm'
    result = run_tool(['python', 'tools/analysis_tools/confusion_matrix.py', str(config), str(predictions),
                       str(out_dir), '--score-thr', '0.3', '--color-theme', 'viridis'], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((out_dir / 'confusion_matrix.json').read_text())
    assert written['classes'] == [*CLASSES, 'background']
    assert written['matrix'] == EXPECTED
    assert (written['score_thr'], written['tp_iou_thr'], written['nms_iou_thr']) == (0.3, 0.5, None)
    assert (out_dir / 'confusion_matrix.png').stat().st_size > 10_000
    assert ('6 ground-truth boxes: 2 matched, 2 taken for another class, 2 missed; 6 false positives'
            in result.stdout)

    # A predictions file of another dataset: one short line, exit status 1.
    with open(predictions, 'rb') as file:
        fewer = pickle.load(file)[:2]
    short = tmp_path / 'short.pkl'
    short.write_bytes(pickle.dumps(fewer))
    failed = run_tool(['python', 'tools/analysis_tools/confusion_matrix.py', str(config), str(short),
                       str(out_dir)], tmp_path)
    assert failed.returncode == 1
    assert 'ERROR: the predictions file has 2 predictions but the test dataset has 4 images' in failed.stderr
    assert 'Traceback' not in failed.stderr
