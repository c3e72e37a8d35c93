"""``_base_ = 'mmdet::ssd/ssd300_coco.py'`` without mmdetection installed: our equivalent configs.

mmengine resolves ``package::path`` bases inside the installed package; without mmdetection the
config fails to load. Where ssd_npu ships the same config, the base is read from the package's
``configs`` (:data:`CONFIGS`) instead (a copy of the file with the base rewritten is loaded from
the file's own folder, so its relative bases still resolve); other ``mmdet::`` bases are an error
that lists ours.
"""
import contextlib
import importlib.util
import os
import os.path as osp
import re
import tempfile
from typing import Iterator

from ssd_npu.errors import UsageError

# The configs shipped inside the package: ssd_npu/configs, a folder of the installed wheel, and in a
# checkout (editable install) the committed link to the repository's configs/.
CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
# mmdetection 3.3's config path -> ours, relative to configs/
EQUIVALENTS = {
    'ssd/ssd300_coco.py': 'ssd300_coco.py',
    'ssd/ssd512_coco.py': 'ssd512_coco.py',
    'ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py': 'ssdlite_mobilenetv2_coco.py',
    'pascal_voc/ssd300_voc0712.py': 'ssd300_voc0712.py',
    '_base_/default_runtime.py': '_base_/default_runtime.py',
    '_base_/datasets/coco_detection.py': '_base_/datasets/coco_detection.py',
    '_base_/datasets/voc0712.py': '_base_/datasets/voc0712.py',
    '_base_/models/ssd300.py': '_base_/models/ssd300.py',
}
_PACKAGE_BASE = re.compile(r'''(['"])mmdet::([^'"]+)\1''')


def _ours(match: 're.Match[str]') -> str:
    path = match.group(2)
    if path not in EQUIVALENTS:
        raise UsageError(f'the config names the base mmdet::{path}, and mmdetection is not installed; '
                         f'ssd_npu has equivalents of: {", ".join(sorted(EQUIVALENTS))} (or install mmdet)')
    return repr(osp.join(CONFIGS, EQUIVALENTS[path]))


@contextlib.contextmanager
def resolved_package_bases(path: str) -> Iterator[str]:
    """``path``, or a temporary copy beside it with its ``mmdet::`` bases pointing at our configs."""
    text = open(path, encoding='utf-8').read()
    if not _PACKAGE_BASE.search(text) or importlib.util.find_spec('mmdet') is not None:
        yield path
        return
    handle, copy = tempfile.mkstemp(dir=osp.dirname(osp.abspath(path)), prefix=f'.{osp.basename(path)}.',
                                    suffix='.py')
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as file:
            file.write(_PACKAGE_BASE.sub(_ours, text))
        yield copy
    finally:
        os.remove(copy)
