"""Fixtures that write tiny datasets into tmp_path and capture the warnings datasets log."""
import json
import logging

import cv2
import numpy as np
import pytest
from mmengine.logging import MMLogger

from ssd_npu.datasets import bad_samples
from ssd_npu.setup_env import register_all_modules


@pytest.fixture(autouse=True)
def _scope_and_fresh_warnings():
    register_all_modules()
    bad_samples._warned_files.clear()


@pytest.fixture
def log_messages():
    """The messages logged through mmengine's current logger during the test."""
    messages = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Collect(level=logging.INFO)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def _write_jpeg(path, height=48, width=64, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return img


@pytest.fixture
def write_jpeg():
    """``write_jpeg(path, height=48, width=64, seed=0) -> img``: a random-noise JPEG."""
    return _write_jpeg


@pytest.fixture
def make_coco(tmp_path):
    """``make_coco(images, annotations, categories=a/b/c, name='ann.json') -> data_root``.

    ``images``: ``(id, file_name, width, height)`` tuples, written as JPEGs under ``img/``;
    ``annotations``: COCO annotation dicts (ids added when missing).
    """
    def make(images, annotations, categories=None, name='ann.json'):
        categories = categories or [dict(id=1, name='a'), dict(id=3, name='b'),
                                    dict(id=7, name='c')]
        for index, (_, file_name, width, height) in enumerate(images):
            _write_jpeg(tmp_path / 'img' / file_name, height, width, seed=index)
        anns = [dict(dict(id=i + 1, iscrowd=0), **ann) for i, ann in enumerate(annotations)]
        coco = dict(images=[dict(id=i, file_name=f, width=w, height=h) for i, f, w, h in images],
                    annotations=anns, categories=categories)
        (tmp_path / name).write_text(json.dumps(coco))
        return str(tmp_path)
    return make
