"""Config text of the tiny runs the tool tests start: the demo config on a few generated images."""
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The demo model at quarter width (``model=QUARTER_WIDTH``): 4x fewer channels in the first stages.
QUARTER_WIDTH = '''
    model = dict(backbone=dict(widen_factor=0.25), neck=dict(in_channels=(8, 24, 1280),
                 out_channels=(8, 24, 1280, 256, 128, 64)),
                 bbox_head=dict(in_channels=(8, 24, 1280, 256, 128, 64)))
'''


def tiny_demo_config(data_root: Path, generator: dict, train_batch_size: int, model: str = '') -> str:
    """``configs/synthetic_demo.py`` on a synthetic set in ``data_root`` generated on first use with
    ``generator`` (e.g. ``dict(num_train=16, num_val=8)``), no dataloader workers, val batch 4;
    ``model`` config lines (e.g. :data:`QUARTER_WIDTH`) come after the data lines."""
    arguments = ', '.join(f'{key}={value!r}' for key, value in generator.items())
    return textwrap.dedent(f'''
        _base_ = ['{REPO}/configs/synthetic_demo.py']
        data_root = '{data_root}/'
        generator = dict({arguments})
        train_dataloader = dict(batch_size={train_batch_size}, num_workers=0, persistent_workers=False,
                                dataset=dict(data_root=data_root, generator=generator))
        val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                              dataset=dict(data_root=data_root, generator=generator))
        test_dataloader = val_dataloader
        val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
        test_evaluator = val_evaluator
    ''') + textwrap.dedent(model)
