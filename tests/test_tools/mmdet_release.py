"""mmdetection's own config files, read from its released wheels on PyPI (never copied into this repo).

``.ci/run`` downloads the wheels into ``.ci/wheels``; a developer's first run downloads them there.
"""
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from ssd_npu.datasets.coco import COCO_CLASSES
from ssd_npu.datasets.synthetic import CLASSES as SYNTHETIC_CLASSES
from ssd_npu.datasets.synthetic import generate_synthetic_coco

REPO = Path(__file__).resolve().parents[2]
WHEEL_DIR = REPO / '.ci' / 'wheels'
CONFIGS_IN_WHEEL = 'mmdet/.mim/configs/'


def mmdet_wheel(version: str) -> Path:
    """The ``mmdet==version`` wheel from PyPI, downloaded into :data:`WHEEL_DIR` unless there."""
    found = sorted(WHEEL_DIR.glob(f'mmdet-{version}-*.whl'))
    if not found:
        subprocess.run([sys.executable, '-m', 'pip', 'download', '-q', '--no-deps', f'mmdet=={version}',
                        '-d', str(WHEEL_DIR)], check=True)
        found = sorted(WHEEL_DIR.glob(f'mmdet-{version}-*.whl'))
    return found[0]


def extract_configs(version: str, folder: Path) -> Path:
    """Unpack the ``configs`` folder of mmdetection ``version`` into ``folder``; return its path."""
    with zipfile.ZipFile(mmdet_wheel(version)) as wheel:
        members = [name for name in wheel.namelist() if name.startswith(CONFIGS_IN_WHEEL)]
        wheel.extractall(folder, members)
    return folder / CONFIGS_IN_WHEEL


def write_coco2017_layout(root: Path, num_images: int = 2) -> Path:
    """A tiny set laid out as mmdetection's COCO configs expect it under ``data_root``.

    ``annotations/instances_{train,val}2017.json`` and ``{train,val}2017/``, whose category list is
    COCO's 80 classes, so a COCO config needs no class override. The images are the synthetic
    generator's, whose three shapes are labelled with COCO's first three classes.
    """
    generate_synthetic_coco(str(root), num_train=num_images, num_val=num_images, width=160, height=160)
    renamed = dict(zip(SYNTHETIC_CLASSES, COCO_CLASSES))
    for split in ('train', 'val'):
        (root / split).rename(root / f'{split}2017')
        old = root / 'annotations' / f'instances_{split}.json'
        coco = json.loads(old.read_text())
        ids = {cat['id']: COCO_CLASSES.index(renamed[cat['name']]) + 1 for cat in coco['categories']}
        for annotation in coco['annotations']:
            annotation['category_id'] = ids[annotation['category_id']]
        coco['categories'] = [dict(id=i + 1, name=name) for i, name in enumerate(COCO_CLASSES)]
        (root / 'annotations' / f'instances_{split}2017.json').write_text(json.dumps(coco))
        old.unlink()
    return root
