import json

import numpy as np
import pytest

from ssd_npu.datasets import CocoDataset
from ssd_npu.registry import DATASETS

CLASSES = ('a', 'b', 'c')


def build(data_root, **kwargs):
    kwargs.setdefault('metainfo', dict(classes=CLASSES))
    return CocoDataset(ann_file='ann.json', data_root=data_root, data_prefix=dict(img='img/'),
                       **kwargs)


def test_parses_labels_boxes_and_crowd(make_coco):
    root = make_coco([(5, 'x.jpg', 64, 48)], [
        dict(image_id=5, category_id=1, bbox=[1, 2, 10, 20]),
        dict(image_id=5, category_id=7, bbox=[0, 0, 5, 5]),
        dict(image_id=5, category_id=3, bbox=[10, 10, 4, 4], iscrowd=1),
        dict(image_id=5, category_id=3, bbox=[10, 10, 4, 4], ignore=1),
    ])
    ds = build(root)
    info = ds.get_data_info(0)
    assert info['img_path'] == f'{root}/img/x.jpg'
    assert (info['img_id'], info['width'], info['height']) == (5, 64, 48)
    # Category ids 1, 3, 7 become the contiguous labels 0, 1, 2; xywh becomes xyxy.
    assert info['instances'] == [
        dict(bbox=[1, 2, 11, 22], bbox_label=0, ignore_flag=0),
        dict(bbox=[0, 0, 5, 5], bbox_label=2, ignore_flag=0),
        dict(bbox=[10, 10, 14, 14], bbox_label=1, ignore_flag=1),
    ]
    assert ds.metainfo['classes'] == CLASSES and len(ds.metainfo['palette']) == 3
    assert ds.get_cat_ids(0) == [0, 2, 1]


def test_default_metainfo_is_mmdetections_coco():
    meta = CocoDataset(ann_file='never_read.json', lazy_init=True).metainfo
    assert len(meta['classes']) == 80 and meta['classes'][0] == 'person'
    assert len(meta['palette']) == 80 and meta['palette'][0] == (220, 20, 60)


def test_class_subset_keeps_file_order_and_default_colours(make_coco):
    root = make_coco([(1, 'x.jpg', 64, 48)], [
        dict(image_id=1, category_id=1, bbox=[1, 1, 5, 5]),
        dict(image_id=1, category_id=3, bbox=[1, 1, 5, 5]),
        dict(image_id=1, category_id=7, bbox=[1, 1, 5, 5]),
    ], categories=[dict(id=1, name='person'), dict(id=3, name='car'), dict(id=7, name='dog')])
    ds = build(root, metainfo=dict(classes=('person', 'dog')))
    assert [i['bbox_label'] for i in ds.get_data_info(0)['instances']] == [0, 1]
    assert ds.metainfo['palette'] == [(220, 20, 60), (0, 226, 252)]


def test_class_order_differing_from_the_file_is_an_error(make_coco):
    root = make_coco([(1, 'x.jpg', 64, 48)], [])
    with pytest.raises(ValueError, match=r"file's category order, \['a', 'c'\]"):
        build(root, metainfo=dict(classes=('c', 'a')))


def test_class_missing_from_the_file_is_an_error(make_coco):
    root = make_coco([(1, 'x.jpg', 64, 48)], [])
    with pytest.raises(ValueError, match=r"\['zebra'\], which are not among the categories"):
        build(root, metainfo=dict(classes=('a', 'zebra')))


def test_coco_metric_maps_the_dataset_labels_back_to_the_file_categories(make_coco, tmp_path):
    """Predicting each box of the dataset with its dataset label scores mAP 1 against the file:
    the dataset and the metric share one class-name -> category-id mapping."""
    import torch
    from mmengine.logging import MMLogger

    from ssd_npu.evaluation import CocoMetric

    root = make_coco([(1, 'x.jpg', 64, 48)], [
        dict(image_id=1, category_id=9, bbox=[1, 1, 20, 20]),
        dict(image_id=1, category_id=2, bbox=[30, 5, 30, 40]),
    ], categories=[dict(id=9, name='a'), dict(id=5, name='b'), dict(id=2, name='c')])
    ds = build(root)
    assert ds.cat_ids == [9, 5, 2]
    instances = ds.get_data_info(0)['instances']
    MMLogger.get_instance('coco-dataset-metric')
    metric = CocoMetric(ann_file=f'{root}/ann.json')
    metric.dataset_meta = ds.metainfo
    metric.process({}, [dict(img_id=1, ori_shape=(48, 64), pred_instances=dict(
        bboxes=torch.tensor([i['bbox'] for i in instances], dtype=torch.float32),
        scores=torch.ones(len(instances)), labels=torch.tensor([i['bbox_label'] for i in instances])))])
    assert metric.evaluate(size=1)['coco/bbox_mAP'] == 1.0


def test_filter_cfg_drops_empty_and_small_images_in_training_only(make_coco, log_messages):
    root = make_coco([(1, 'big.jpg', 64, 48), (2, 'empty.jpg', 64, 48), (3, 'small.jpg', 20, 48)], [
        dict(image_id=1, category_id=1, bbox=[1, 1, 5, 5]),
        dict(image_id=3, category_id=1, bbox=[1, 1, 5, 5]),
    ])
    cfg = dict(filter_empty_gt=True, min_size=32)
    train = build(root, filter_cfg=cfg)
    assert [train.get_data_info(i)['img_id'] for i in range(len(train))] == [1]
    assert any('kept 1 of 3 images (1 without annotations, 1 with a side below 32 px' in m
               for m in log_messages)
    test = build(root, filter_cfg=cfg, test_mode=True)
    assert len(test) == 3 and test.get_data_info(1)['instances'] == []


@pytest.mark.parametrize('bbox, reason', [
    ([float('nan'), 1, 5, 5], 'non-finite coordinates'),
    ([1, 1, float('inf'), 5], 'non-finite coordinates'),
    ([1, 1, 0, 5], 'non-positive width or height'),
    ([1, 1, 5, -3], 'non-positive width or height'),
    ([1, 1, 0.5, 5], 'width or height below 1 px'),
    ([70, 1, 5, 5], 'outside the image'),
    ([-20, -20, 10, 10], 'outside the image'),
    ([1, 2], 'bbox is not 4 numbers'),
    (None, 'bbox is not 4 numbers'),
])
def test_broken_box_is_dropped_with_a_warning(make_coco, log_messages, bbox, reason):
    root = make_coco([(1, 'x.jpg', 64, 48)], [
        dict(image_id=1, category_id=1, bbox=[1, 1, 5, 5]),
        dict(image_id=1, category_id=3, bbox=bbox),
    ])
    ds = build(root)
    assert ds.get_data_info(0)['instances'] == [dict(bbox=[1, 1, 6, 6], bbox_label=0, ignore_flag=0)]
    assert ds.parse_problems == {reason: 1}
    assert any(m.startswith(f'{root}/ann.json: image 1 (x.jpg), annotation 2: {reason}; box dropped')
               for m in log_messages)


def test_box_partly_outside_is_clipped_with_a_warning(make_coco, log_messages):
    root = make_coco([(1, 'x.jpg', 64, 48)], [
        dict(image_id=1, category_id=1, bbox=[50, -10, 30, 20]),
        dict(image_id=1, category_id=1, bbox=[10, 10, 54.5, 38.5]),  # 0.5 px over: no warning
    ])
    ds = build(root)
    assert [i['bbox'] for i in ds.get_data_info(0)['instances']] == [[50, 0, 64, 10],
                                                                       [10, 10, 64, 48]]
    assert ds.parse_problems == {'partly outside the image': 1}
    assert any('annotation 1: partly outside the image; box clipped' in m for m in log_messages)


def test_unknown_category_and_image_are_dropped_with_a_warning(make_coco, log_messages):
    root = make_coco([(1, 'x.jpg', 64, 48)], [
        dict(image_id=1, category_id=99, bbox=[1, 1, 5, 5]),
        dict(image_id=42, category_id=1, bbox=[1, 1, 5, 5]),
        dict(image_id=1, category_id=1, bbox=[1, 1, 5, 5]),
    ])
    ds = build(root)
    assert len(ds.get_data_info(0)['instances']) == 1
    assert ds.parse_problems == {'category not in the categories list': 1,
                                 'image_id not in the images list': 1}
    assert any('annotation 1 (category_id 99): category not in the categories list; box dropped'
               in m for m in log_messages)


def test_many_problems_are_summarised_not_flooded(make_coco, log_messages):
    root = make_coco([(1, 'x.jpg', 64, 48)],
                     [dict(image_id=1, category_id=1, bbox=[1, 1, 0, 5])] * 25)
    ds = build(root)
    assert ds.parse_problems == {'non-positive width or height': 25}
    assert sum('box dropped' in m for m in log_messages) == 10
    assert any('25 x non-positive width or height' in m for m in log_messages)


def test_not_json_not_coco_and_missing_files_stop_at_start_up(tmp_path):
    (tmp_path / 'ann.json').write_text('{"images": [')
    with pytest.raises(ValueError, match=f'{tmp_path}/ann.json is not a JSON file'):
        build(str(tmp_path))
    (tmp_path / 'ann.json').write_text(json.dumps([{'id': 1}]))
    with pytest.raises(ValueError, match='ann.json is not a COCO annotation file'):
        build(str(tmp_path))
    (tmp_path / 'ann.json').write_text(json.dumps({'info': {}, 'licenses': []}))
    with pytest.raises(ValueError, match=r"not a COCO annotation file.*got \['info', 'licenses'\]"):
        build(str(tmp_path))
    with pytest.raises(FileNotFoundError, match=f'COCO annotation file not found: {tmp_path}/no.json'):
        CocoDataset(ann_file='no.json', data_root=str(tmp_path))


def test_duplicate_annotation_ids_are_an_error(make_coco):
    root = make_coco([(1, 'x.jpg', 64, 48)], [dict(id=4, image_id=1, category_id=1, bbox=[1, 1, 5, 5])] * 2)
    with pytest.raises(ValueError, match=r'annotation ids are not unique \(4\)'):
        build(root)


def test_lazy_init_reads_the_file_on_first_use(tmp_path):
    ds = CocoDataset(ann_file='later.json', data_root=str(tmp_path), lazy_init=True)
    with pytest.raises(FileNotFoundError):
        len(ds)


def test_repeat_and_concat_wrappers_build_from_config(make_coco):
    root = make_coco([(1, 'x.jpg', 64, 48), (2, 'y.jpg', 64, 48)],
                     [dict(image_id=1, category_id=1, bbox=[1, 1, 5, 5])])
    inner = dict(type='CocoDataset', ann_file='ann.json', data_root=root,
                 data_prefix=dict(img='img/'), metainfo=dict(classes=CLASSES),
                 pipeline=[dict(type='LoadImageFromFile')])
    repeated = DATASETS.build(dict(type='RepeatDataset', times=3, dataset=inner))
    assert len(repeated) == 6 and repeated[5]['img_id'] == 2
    concat = DATASETS.build(dict(type='ConcatDataset', datasets=[inner, inner]))
    assert len(concat) == 4 and concat.metainfo['classes'] == CLASSES
    assert isinstance(concat[3]['img'], np.ndarray)
