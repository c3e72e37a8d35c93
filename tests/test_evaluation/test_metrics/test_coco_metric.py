"""CocoMetric gives pycocotools' own numbers, handles bad input clearly, and writes submissions."""
import contextlib
import copy
import io
import json
import math
import uuid

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ssd_npu.engine.process_group import leave_process_group
from ssd_npu.evaluation import CocoMetric, evaluate_coco

CLASSES = ('cat', 'dog', 'bird')
# 'person' is in the file but not in CLASSES: it must be left out, and ids are not contiguous.
CATEGORIES = [dict(id=1, name='cat'), dict(id=4, name='person'), dict(id=3, name='dog'),
              dict(id=7, name='bird')]
CAT_IDS = [1, 3, 7]
ALL_ITEMS = ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']


@pytest.fixture
def log_file(tmp_path):
    """A fresh current MMLogger writing to a file, to read what the metric logged."""
    path = tmp_path / 'metric.log'
    MMLogger.get_instance(f'test-{uuid.uuid4().hex}', log_file=str(path), log_level='INFO')
    return path


def _ann(ann_id, image_id, cat_id, xywh, iscrowd=0):
    return dict(id=ann_id, image_id=image_id, category_id=cat_id, bbox=list(map(float, xywh)),
                area=float(xywh[2] * xywh[3]), iscrowd=iscrowd)


def hand_made_set():
    """GT with crowd, empty images, all three area ranges, a non-class category, and an image with
    120 GT and 150 detections of one class (more than maxDets=100)."""
    images = [dict(id=i, width=640, height=480, file_name=f'{i}.jpg') for i in (1, 2, 3, 4)]
    anns = [_ann(1, 1, 1, [10, 10, 20, 20]),        # small cat
            _ann(2, 1, 3, [100, 100, 50, 60]),      # medium dog
            _ann(3, 1, 7, [300, 200, 200, 150]),    # large bird
            _ann(4, 1, 3, [0, 250, 250, 200], 1),   # crowd dog
            _ann(5, 1, 4, [400, 10, 30, 30])]       # person: not evaluated
    for k in range(120):                            # image 4: a grid of 120 small cats
        anns.append(_ann(6 + k, 4, 1, [(k % 15) * 40 + 5, (k // 15) * 55 + 5, 25, 25]))
    gt = dict(images=images, annotations=anns, categories=CATEGORIES)
    preds = {
        1: [([10, 10, 30, 30], 0.9, 0), ([12, 12, 31, 30], 0.6, 0),        # TP + duplicate
            ([102, 98, 150, 162], 0.8, 1),                                  # TP dog (IoU ~.85)
            ([10, 260, 200, 440], 0.7, 1), ([20, 270, 150, 400], 0.5, 1),  # on the crowd: ignored
            ([300, 200, 480, 330], 0.75, 2),                               # bird, IoU ~.78
            ([400, 10, 430, 40], 0.95, 0)],                                # cat on the person box: FP
        2: [([5, 5, 60, 60], 0.4, 1)],                                     # empty image: FP
        3: [],                                                             # empty image, no dets
        4: [([(k % 15) * 40 + 6, (k // 15) * 55 + 4, (k % 15) * 40 + 31, (k // 15) * 55 + 31],
             0.3 + 0.004 * k, 0) for k in range(150) if k < 120]
        + [([600, 400 + k % 5, 630, 430], 0.99 - 0.001 * k, 0) for k in range(30)],  # 30 high-score FPs
    }
    return gt, preds


def random_set(seed, num_images=30, max_dets=60):
    rng = np.random.default_rng(seed)
    images = [dict(id=100 + i, width=500, height=400, file_name='') for i in range(num_images)]
    anns, preds = [], {}
    for img in images:
        preds[img['id']] = []
        for _ in range(rng.integers(0, 6)):
            w, h = rng.uniform(4, 250, 2)
            x, y = rng.uniform(0, 250, 2)
            cat = int(rng.choice(CAT_IDS))
            anns.append(_ann(len(anns) + 1, img['id'], cat, [x, y, w, h], int(rng.random() < 0.1)))
            jitter = rng.normal(0, 0.08 * min(w, h), 4)
            box = [x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]]
            preds[img['id']].append((box, float(rng.random()), CAT_IDS.index(cat)))
        for _ in range(rng.integers(0, max_dets)):
            x1, y1 = rng.uniform(0, 400, 2)
            # Scores rounded to 2 decimals: many ties, where backends could disagree on order.
            preds[img['id']].append(([x1, y1, x1 + rng.uniform(2, 200), y1 + rng.uniform(2, 200)],
                                     round(float(rng.random()), 2), int(rng.integers(0, 3))))
    return dict(images=images, annotations=anns, categories=CATEGORIES), preds


def samples(preds, shapes=None):
    """DetDataSample.to_dict()-like dicts with predictions in original pixels."""
    out = []
    for img_id, dets in preds.items():
        boxes = torch.tensor([d[0] for d in dets], dtype=torch.float32).reshape(-1, 4)
        out.append(dict(img_id=img_id, ori_shape=(shapes or {}).get(img_id, (480, 640)),
                        pred_instances=dict(bboxes=boxes, scores=torch.tensor([d[1] for d in dets]),
                                            labels=torch.tensor([d[2] for d in dets], dtype=torch.long))))
    return out


def reference_stats(gt, preds, max_dets):
    """pycocotools' COCOeval run by hand, as a user would."""
    detections = [dict(image_id=img_id, category_id=CAT_IDS[label], score=score,
                       bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]])
                  for img_id, dets in preds.items() for box, score, label in dets]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)
        coco.createIndex()
        coco_eval = COCOeval(coco, coco.loadRes(detections), 'bbox')
        coco_eval.params.catIds = CAT_IDS
        coco_eval.params.maxDets = list(max_dets)
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    return coco_eval.stats


def run_metric(gt, preds, tmp_path, classes=CLASSES, **kwargs):
    ann_file = tmp_path / f'gt_{uuid.uuid4().hex}.json'
    ann_file.write_text(json.dumps(gt))
    metric = CocoMetric(ann_file=str(ann_file), **kwargs)
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples(preds))
    return metric.evaluate(len(preds)), ann_file


@pytest.mark.parametrize('backend', ['faster_coco_eval', 'pycocotools'])
@pytest.mark.parametrize('max_dets', [(100, 300, 1000), (1, 10, 100)])
@pytest.mark.parametrize('data', ['hand_made', 'random'])
def test_numbers_identical_to_pycocotools(tmp_path, log_file, backend, max_dets, data):
    gt, preds = hand_made_set() if data == 'hand_made' else random_set(seed=len(max_dets) + 7)
    names = ALL_ITEMS + [f'AR@{n}' for n in max_dets] + [f'AR_{a}@{max_dets[-1]}' for a in 'sml']
    results, _ = run_metric(gt, preds, tmp_path, backend=backend, proposal_nums=max_dets, metric_items=names)
    expected = reference_stats(gt, preds, max_dets)
    ours = np.array([results[f'coco/bbox_{name}'] for name in names])
    if backend == 'pycocotools':
        np.testing.assert_array_equal(ours, expected)
    else:
        # faster-coco-eval's precision differs from pycocotools' in the last bit (it divides
        # without pycocotools' np.spacing(1) term): 1.0 vs 0.9999999999999998.
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)
    # The copy-paste line is logged, not returned (mmdetection's keys only).
    assert f"bbox_mAP_copypaste: {' '.join(f'{v:.3f}' for v in expected[:6])}" in log_file.read_text()


def test_more_than_100_detections_per_image_matter(tmp_path, log_file):
    gt, preds = hand_made_set()
    at_1000, _ = run_metric(gt, preds, tmp_path)
    at_100, _ = run_metric(gt, preds, tmp_path, proposal_nums=(1, 10, 100))
    # Image 4 has 150 cat detections; 30 top-scored FPs push 30 TPs past the 100 cut. The headline
    # mAP is at 100 detections in both (pycocotools' rule), mAP_50 at the largest max_dets.
    assert at_1000['coco/bbox_mAP'] == at_100['coco/bbox_mAP']
    assert at_1000['coco/bbox_mAP_50'] > at_100['coco/bbox_mAP_50'] > 0
    assert list(at_1000) == ['coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/bbox_mAP_s',
                             'coco/bbox_mAP_m', 'coco/bbox_mAP_l']


def test_proposal_metric_is_class_agnostic_recall(tmp_path, log_file):
    gt, preds = hand_made_set()
    results, _ = run_metric(gt, preds, tmp_path, metric=['bbox', 'proposal'])
    assert {'coco/AR@100', 'coco/AR@300', 'coco/AR@1000', 'coco/AR_s@1000'} <= set(results)
    # Class-agnostic: the cat box on the 'person' GT still does not count ('person' is not evaluated),
    # but recall is at least the class-aware one.
    assert 0 < results['coco/AR@1000'] <= 1


def test_classwise_table_and_class_without_gt(tmp_path, log_file):
    gt, preds = hand_made_set()
    gt['annotations'] = [a for a in gt['annotations'] if a['category_id'] != 7]  # no bird at all
    results, _ = run_metric(gt, preds, tmp_path, classwise=True)
    assert math.isnan(results['coco/bird_precision'])
    assert 0 < results['coco/cat_precision'] <= 1 and 0 < results['coco/dog_precision'] <= 1
    # COCO leaves a class without GT out of the mean: mAP is the mean of cat and dog.
    assert results['coco/bbox_mAP'] == pytest.approx(
        (results['coco/cat_precision'] + results['coco/dog_precision']) / 2)
    log = log_file.read_text()
    assert '| category | mAP' in log and '| bird     | nan' in log


def test_format_only_writes_the_submission_json(tmp_path, log_file):
    gt, preds = hand_made_set()
    prefix = tmp_path / 'sub' / 'results'
    results, _ = run_metric(gt, preds, tmp_path, format_only=True, outfile_prefix=str(prefix))
    assert results == {}
    written = json.loads((tmp_path / 'sub' / 'results.bbox.json').read_text())
    assert len(written) == sum(len(d) for d in preds.values())
    first = written[0]
    assert first['image_id'] == 1 and first['category_id'] == 1 and first['score'] == pytest.approx(0.9)
    assert first['bbox'] == pytest.approx([10, 10, 20, 20])
    assert {d['category_id'] for d in written} <= set(CAT_IDS)
    with pytest.raises(ValueError, match='outfile_prefix'):
        CocoMetric(format_only=True)
    with pytest.raises(AssertionError, match='outfile_prefix'):  # mmdetection's error type
        CocoMetric(format_only=True)


def test_nan_predictions_are_dropped_with_a_count(tmp_path, log_file):
    gt, preds = hand_made_set()
    clean, _ = run_metric(gt, preds, tmp_path)
    dirty = copy.deepcopy(preds)
    nan, inf = float('nan'), float('inf')
    dirty[1] += [([1, 2, 3, 4], nan, 0), ([nan, 2, 3, 4], 0.5, 1), ([1, 2, inf, 4], 0.5, 2)]
    results, _ = run_metric(gt, dirty, tmp_path)
    assert results == clean
    assert 'dropped 3 predictions with NaN/inf' in log_file.read_text()


def test_img_id_not_in_ann_file_names_id_and_file(tmp_path, log_file):
    gt, preds = hand_made_set()
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(gt))
    metric = CocoMetric(ann_file=str(ann_file))
    metric.dataset_meta = dict(classes=CLASSES)
    with pytest.raises(ValueError, match=rf'img_id 999 .*{ann_file.name}'):
        metric.process({}, samples({999: []}))


def test_empty_prediction_set_gives_zeros_and_a_warning(tmp_path, log_file):
    gt, preds = hand_made_set()
    for backend in ('pycocotools', 'faster_coco_eval'):
        results, _ = run_metric(gt, {img_id: [] for img_id in preds}, tmp_path, backend=backend)
        assert all(results[f'coco/bbox_{name}'] == 0.0 for name in ALL_ITEMS)
    assert 'no predictions at all' in log_file.read_text()


def test_dataset_classes_missing_from_ann_file(tmp_path, log_file):
    gt, preds = hand_made_set()
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(gt))
    metric = CocoMetric(ann_file=str(ann_file))
    metric.dataset_meta = dict(classes=('cat', 'zebra'))
    metric.process({}, samples(preds))
    with pytest.raises(ValueError, match=r"\['zebra'\].*gt.json"):
        metric.evaluate(len(preds))


def test_label_beyond_classes_is_an_error(tmp_path, log_file):
    gt, preds = hand_made_set()
    preds[1].append(([0, 0, 5, 5], 0.5, 3))
    with pytest.raises(ValueError, match='outside the 3 evaluated classes'):
        run_metric(gt, preds, tmp_path)


def test_results_file_of_another_dataset(tmp_path):
    gt, preds = hand_made_set()
    other = tmp_path / 'other.bbox.json'
    other.write_text(json.dumps([dict(image_id=1, category_id=90, bbox=[0, 0, 5, 5], score=0.5)]))
    with pytest.raises(ValueError, match=r'category ids \[90\] of .*other.bbox.json'):
        evaluate_coco(gt, str(other))
    other.write_text(json.dumps([dict(image_id=5000, category_id=1, bbox=[0, 0, 5, 5], score=0.5)]))
    with pytest.raises(ValueError, match=r'image ids of .*other.bbox.json .*\[5000\]'):
        evaluate_coco(gt, str(other))


def test_padded_distributed_results_count_each_image_once(tmp_path, log_file):
    gt, preds = hand_made_set()
    clean, ann_file = run_metric(gt, preds, tmp_path)
    metric = CocoMetric(ann_file=str(ann_file))
    metric.dataset_meta = dict(classes=CLASSES)
    batch = samples(preds)
    # A distributed sampler pads the last batch with the first samples: collect_results truncates
    # to the dataset size, and the metric also keeps one result per img_id.
    metric.process({}, batch + batch[:2])
    assert metric.evaluate(len(preds)) == clean
    metric.process({}, batch + batch[:2])
    assert metric.compute_metrics(metric.results) == {k.split('/', 1)[1]: v for k, v in clean.items()}
    assert 'repeated images' in log_file.read_text()


def test_ground_truth_from_samples_without_ann_file(tmp_path, log_file):
    """No ann_file: GT comes from gt_instances / ignored_instances, here in network-input pixels
    (LoadAnnotations before Resize, hence rescale_gt=True)."""
    gt, preds = hand_made_set()
    gt['annotations'] = [a for a in gt['annotations'] if a['category_id'] != 4]
    gt['categories'] = [c for c in CATEGORIES if c['id'] != 4]
    with_file, _ = run_metric(gt, preds, tmp_path)
    scale = (0.5, 0.625)  # 640x480 resized to 320x300
    metric = CocoMetric(rescale_gt=True)
    metric.dataset_meta = dict(classes=CLASSES)
    batch = samples(preds)
    for sample in batch:
        anns = [a for a in gt['annotations'] if a['image_id'] == sample['img_id']]

        def resized(selected):
            xyxy = [[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2], a['bbox'][1] + a['bbox'][3]]
                    for a in selected]
            return dict(bboxes=torch.tensor(xyxy).reshape(-1, 4) * torch.tensor(scale * 2),
                        labels=torch.tensor([CAT_IDS.index(a['category_id']) for a in selected],
                                            dtype=torch.long))
        sample.update(scale_factor=scale, img_shape=(300, 320),
                      gt_instances=resized([a for a in anns if not a['iscrowd']]),
                      ignored_instances=resized([a for a in anns if a['iscrowd']]))
    metric.process({}, batch)
    from_samples = metric.evaluate(len(batch))
    for name in ALL_ITEMS:
        assert from_samples[f'coco/bbox_{name}'] == pytest.approx(with_file[f'coco/bbox_{name}'], abs=1e-12)


# mmdetection's CocoMetric unit test scene: one 640x640 image, four boxes of two classes
# (category ids 0 'car', 1 'bicycle'), all found exactly.
PERFECT_BOXES = [[50, 60, 70, 80], [100, 120, 130, 150], [150, 160, 190, 200], [250, 260, 350, 360]]
PERFECT_LABELS = [0, 0, 1, 0]
PERFECT_TARGET = {f'coco/bbox_{name}': 1.0 for name in ALL_ITEMS}


def perfect_sample(**extra):
    pred = dict(bboxes=torch.tensor(PERFECT_BOXES, dtype=torch.float32),
                scores=torch.tensor([1.0, 0.98, 0.96, 0.95]), labels=torch.tensor(PERFECT_LABELS))
    return dict(pred_instances=pred, img_id=0, ori_shape=(640, 640), **extra)


def test_mmdetection_scene_returns_exactly_its_keys(tmp_path, log_file):
    ann_file = tmp_path / 'fake_data.json'
    anns = [_ann(i + 1, 0, label, [x1, y1, x2 - x1, y2 - y1])
            for i, ((x1, y1, x2, y2), label) in enumerate(zip(PERFECT_BOXES, PERFECT_LABELS))]
    ann_file.write_text(json.dumps(dict(
        images=[dict(id=0, width=640, height=640, file_name='fake_name.jpg')], annotations=anns,
        categories=[dict(id=0, name='car'), dict(id=1, name='bicycle')])))
    metric = CocoMetric(ann_file=str(ann_file), outfile_prefix=str(tmp_path / 'test'))
    metric.dataset_meta = dict(classes=['car', 'bicycle'])
    metric.process({}, [perfect_sample()])
    assert metric.evaluate(size=1) == PERFECT_TARGET
    assert (tmp_path / 'test.bbox.json').is_file() and not (tmp_path / 'test.gt.json').exists()
    metric = CocoMetric(ann_file=str(ann_file), metric_items=['mAP_m'], classwise=True)
    metric.dataset_meta = dict(classes=['car', 'bicycle'])
    metric.process({}, [perfect_sample()])
    assert metric.evaluate(size=1) == {'coco/bbox_mAP_m': 1.0, 'coco/car_precision': 1.0,
                                       'coco/bicycle_precision': 1.0}


def test_without_ann_file_ground_truth_comes_from_instances_and_is_written(tmp_path, log_file):
    instances = [dict(bbox_label=label, bbox=box, ignore_flag=0)
                 for box, label in zip(PERFECT_BOXES, PERFECT_LABELS)]
    instances.append(dict(bbox_label=1, bbox=[400, 400, 500, 500], ignore_flag=1))  # crowd: no FN
    metric = CocoMetric(ann_file=None, outfile_prefix=str(tmp_path / 'test'))
    metric.dataset_meta = dict(classes=['car', 'bicycle'])
    metric.process({}, [perfect_sample(instances=instances)])
    assert metric.evaluate(size=1) == PERFECT_TARGET
    gt = json.loads((tmp_path / 'test.gt.json').read_text())
    assert gt['categories'] == [dict(id=0, name='car'), dict(id=1, name='bicycle')]
    assert gt['images'] == [dict(id=0, width=640, height=640, file_name='')]
    assert [a['bbox'] for a in gt['annotations']] == [
        [50, 60, 20, 20], [100, 120, 30, 30], [150, 160, 40, 40], [250, 260, 100, 100], [400, 400, 100, 100]]
    assert [(a['category_id'], a['iscrowd']) for a in gt['annotations']] == [(0, 0), (0, 0), (1, 0), (0, 0),
                                                                              (1, 1)]
    assert (tmp_path / 'test.bbox.json').is_file()


def test_unknown_arguments_fail_early():
    with pytest.raises(KeyError, match='segm'):
        CocoMetric(metric='segm')
    with pytest.raises(ValueError, match='backend'):
        CocoMetric(backend='detectron')
    with pytest.raises(KeyError, match='AR@42'):
        CocoMetric(metric_items=['AR@42'])


def _distributed_rank(rank, world_size, store, ann_file, batches, out):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=world_size)
    MMLogger.get_instance(f'rank{rank}-{uuid.uuid4().hex}')
    metric = CocoMetric(ann_file=ann_file)
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, batches[rank])
    results = metric.evaluate(sum(len(b) for b in batches) - 1)  # one padded sample
    if rank == 0:
        with open(out, 'w') as f:
            json.dump(results, f)
    leave_process_group()


@pytest.mark.slow
def test_two_process_gloo_evaluation_equals_single_process(tmp_path, log_file):
    """Two ranks, DefaultSampler layout (rank r gets images r, r+2, ...; the shorter rank padded
    with the first image): rank 0 returns exactly the single-process numbers."""
    import multiprocessing
    gt, preds = random_set(seed=3, num_images=5)
    single, ann_file = run_metric(gt, preds, tmp_path)
    batch = samples(preds)
    batches = [batch[0::2], batch[1::2] + batch[:1]]
    out = tmp_path / 'rank0.json'
    context = multiprocessing.get_context('fork')
    args = (tmp_path / 'store', str(ann_file), batches, out)
    procs = [context.Process(target=_distributed_rank, args=(rank, 2, *args)) for rank in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0]
    assert json.loads(out.read_text()) == single


def test_metric_maps_classes_as_the_dataset_does(tmp_path, log_file):
    """One mapping for CocoDataset and CocoMetric: an order the dataset refuses, the metric refuses
    too, and sort_categories cannot make them disagree silently."""
    gt, preds = hand_made_set()
    with pytest.raises(ValueError, match=r"file's category order, \['cat', 'dog', 'bird'\]"):
        run_metric(gt, preds, tmp_path, classes=('dog', 'cat', 'bird'))
    # Ids whose order differs from the file order of the named classes: sorted by id, label 0
    # would be 'dog', while the dataset (file order) gives label 0 to 'cat'.
    gt['categories'] = [dict(id=9, name='cat'), dict(id=4, name='person'), dict(id=3, name='dog'),
                        dict(id=7, name='bird')]
    with pytest.raises(ValueError, match=r"category order sorted by id, \['dog', 'bird', 'cat'\]"):
        run_metric(gt, preds, tmp_path, sort_categories=True)
