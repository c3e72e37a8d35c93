"""The annotation cache: one parse per machine, the same infos as a parse, invalidated by any
change of the file or the arguments, and never a way to run code."""
import json
import multiprocessing
import os
import pickle

import numpy as np
import pytest

from ssd_npu.datasets import CocoDataset
from ssd_npu.datasets.annotation_cache import load_plain
from ssd_npu.registry import DATASETS

CLASSES = ('a', 'b', 'c')
IMAGES = [(i, f'{i}.jpg', 64, 48) for i in range(1, 7)]
ANNOTATIONS = [dict(image_id=i, category_id=(1, 3, 7)[i % 3], bbox=[1, 2, 10 + i, 20])
               for i in range(1, 7)] + [dict(image_id=2, category_id=3, bbox=[0, 0, 0, 0])]


def build(data_root, cache_dir, **kwargs):
    kwargs.setdefault('metainfo', dict(classes=CLASSES))
    kwargs.setdefault('ann_cache', str(cache_dir))
    return CocoDataset(ann_file='ann.json', data_root=data_root, data_prefix=dict(img='img/'),
                       **kwargs)


def infos(dataset):
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def entries(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir() if p.is_dir())


def test_a_second_build_maps_the_first_parse(make_coco, tmp_path, log_messages):
    root = make_coco(IMAGES, ANNOTATIONS)
    cache = tmp_path / 'cache'
    parsed = build(root, cache)
    log_messages.clear()
    cached = build(root, cache)

    assert any('parsed annotations read from' in m for m in log_messages)
    assert len(entries(cache)) == 1
    # The infos, labels and parse bookkeeping equal an uncached parse's.
    plain = build(root, cache, ann_cache=False)
    assert infos(cached) == infos(parsed) == infos(plain)
    assert cached.cat_ids == plain.cat_ids and cached.cat2label == plain.cat2label
    assert cached.parse_problems == plain.parse_problems == {'non-positive width or height': 1}
    assert isinstance(cached.data_bytes, np.memmap) and not cached.data_bytes.flags.writeable
    assert cached.get_data_info(-1) == plain.get_data_info(-1)


def test_a_changed_file_or_argument_parses_again(make_coco, tmp_path):
    root = make_coco(IMAGES, ANNOTATIONS)
    cache = tmp_path / 'cache'
    build(root, cache)
    build(root, cache, filter_cfg=dict(filter_empty_gt=True))
    build(root, cache, metainfo=dict(classes=('a', 'b')))
    assert len(entries(cache)) == 3

    ann = json.loads((tmp_path / 'ann.json').read_text())
    ann['annotations'] = ann['annotations'][:2]
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    changed = build(root, cache)
    assert len(entries(cache)) == 4
    assert sum(len(info['instances']) for info in infos(changed)) == 2


def _build_in_child(args):
    root, cache, calls = args
    original = CocoDataset.load_data_list

    def counted(self):
        with open(calls, 'a') as f:
            f.write(f'{os.getpid()}\n')
        return original(self)

    CocoDataset.load_data_list = counted
    return infos(build(root, cache))


def test_concurrent_processes_parse_once(make_coco, tmp_path):
    root = make_coco(IMAGES, ANNOTATIONS)
    cache, calls = tmp_path / 'cache', tmp_path / 'parses.txt'
    with multiprocessing.get_context('fork').Pool(4) as pool:
        results = pool.map(_build_in_child, [(root, str(cache), str(calls))] * 4)
    assert len(calls.read_text().split()) == 1
    assert all(result == results[0] for result in results)
    assert results[0] == infos(build(root, cache, ann_cache=False))


def test_a_spawned_worker_receives_the_entry_not_a_copy(make_coco, tmp_path):
    root = make_coco(IMAGES, ANNOTATIONS)
    build(root, tmp_path / 'cache')
    cached = build(root, tmp_path / 'cache')
    sent = pickle.dumps(cached)
    assert cached.data_bytes.tobytes() not in sent
    received = pickle.loads(sent)
    assert isinstance(received.data_bytes, np.memmap)
    assert infos(received) == infos(cached)


def test_subsets_copy_their_infos(make_coco, tmp_path):
    root = make_coco(IMAGES, ANNOTATIONS)
    build(root, tmp_path / 'cache')
    subset = build(root, tmp_path / 'cache').get_subset([4, 1])
    assert [info['img_id'] for info in infos(subset)] == [5, 2]
    assert [info['img_id'] for info in infos(pickle.loads(pickle.dumps(subset)))] == [5, 2]


class _Touch:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def test_a_tampered_entry_cannot_run_code(make_coco, tmp_path):
    root = make_coco(IMAGES, ANNOTATIONS)
    cache = tmp_path / 'cache'
    build(root, cache)
    marker = tmp_path / 'ran'
    (cache / entries(cache)[0] / 'extras.pkl').write_bytes(pickle.dumps(dict(x=_Touch(str(marker)))))
    with pytest.raises(RuntimeError, match='broken annotation cache entry .* plain data only'):
        build(root, cache)
    assert not marker.exists()
    assert load_plain(pickle.dumps(dict(a=[1, 2.5, 'x', None, (True,)]))) == dict(
        a=[1, 2.5, 'x', None, (True,)])


def test_a_folder_others_can_write_to_is_not_used(make_coco, tmp_path, log_messages):
    root = make_coco(IMAGES, ANNOTATIONS)
    shared = tmp_path / 'shared'
    shared.mkdir()
    shared.chmod(0o777)
    dataset = build(root, shared)
    assert dataset._annotation_cache is None and entries(shared) == []
    assert any('is not a folder only this user can write to' in m for m in log_messages)
    assert infos(dataset) == infos(build(root, tmp_path / 'private'))
    assert oct((tmp_path / 'private').stat().st_mode & 0o777) == '0o700'


def test_a_full_disk_trains_from_the_parse_in_memory(make_coco, tmp_path, monkeypatch,
                                                      log_messages):
    root = make_coco(IMAGES, ANNOTATIONS)

    def no_space(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(np, 'save', no_space)
    dataset = build(root, tmp_path / 'cache')
    assert dataset._annotation_cache is None and entries(tmp_path / 'cache') == []
    assert any('No space left on device' in m for m in log_messages)
    assert infos(dataset) == infos(build(root, tmp_path / 'cache', ann_cache=False))


@DATASETS.register_module(force=True)
class _ArrayInfoDataset(CocoDataset):
    def load_data_list(self):
        return [dict(info, extra=np.zeros(2)) for info in super().load_data_list()]


def test_infos_that_are_not_plain_data_are_parsed_in_every_process(make_coco, tmp_path,
                                                                   log_messages):
    root = make_coco(IMAGES, ANNOTATIONS)
    dataset = _ArrayInfoDataset(ann_file='ann.json', data_root=root, ann_cache=str(tmp_path / 'c'),
                                metainfo=dict(classes=CLASSES))
    assert dataset._annotation_cache is None and entries(tmp_path / 'c') == []
    assert any('not cached' in m for m in log_messages)
    assert dataset.get_data_info(0)['extra'].shape == (2,)
