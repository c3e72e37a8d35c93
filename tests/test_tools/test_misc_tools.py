import importlib.util
from pathlib import Path

from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]


def test_print_config_save_path_writes_the_merged_config(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('print_config', REPO / 'tools' / 'misc' / 'print_config.py')
    print_config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(print_config)
    (tmp_path / 'base.py').write_text('train_dataloader = dict(batch_size=8, num_workers=2)\n')
    (tmp_path / 'child.py').write_text("_base_ = ['./base.py']\nlr = 0.01\n")
    saved = tmp_path / 'merged.py'
    print_config.main([str(tmp_path / 'child.py'), '--save-path', str(saved),
                       '--cfg-options', 'train_dataloader.batch_size=4'])
    assert f'Config written to {saved}' in capsys.readouterr().out
    merged = Config.fromfile(str(saved))
    assert merged.train_dataloader == dict(batch_size=4, num_workers=2) and merged.lr == 0.01
