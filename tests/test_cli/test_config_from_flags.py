import argparse
import os

import pytest
from mmengine.config import Config
from repo_paths import CONFIGS_DIR

from ssd_npu.cli import amp_flags, build_train_parser, setup_test_config, setup_train_config
from ssd_npu.config import load_config
from ssd_npu.errors import UsageError

DEMO = str(CONFIGS_DIR / 'synthetic_demo.py')


def _train_args(*argv: str) -> argparse.Namespace:
    return build_train_parser().parse_args([DEMO, *argv])


@pytest.fixture
def clean_env(monkeypatch):
    for name in ('RANK', 'RANK_SIZE', 'NPUID', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT',
                 'SSD_NPU_DEVICE'):
        # setenv first, so that monkeypatch restores the variable's absence after the test too
        # (the code under test sets some of them directly in os.environ).
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_name_the_work_dir_after_the_config_and_pick_the_backend(clean_env):
    cfg = setup_train_config(load_config(DEMO), _train_args())
    assert cfg.work_dir == './work_dirs/synthetic_demo'
    assert cfg.launcher == 'none'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_old_product_launch_variables_start_a_distributed_run(clean_env):
    clean_env.setenv('RANK', '1')
    clean_env.setenv('RANK_SIZE', '8')
    clean_env.setenv('NPUID', '1')
    cfg = setup_train_config(load_config(DEMO), _train_args())
    assert cfg.launcher == 'pytorch'
    assert os.environ['WORLD_SIZE'] == '8' and os.environ['LOCAL_RANK'] == '1'


@pytest.mark.parametrize('argv, wrapper', [((), 'OptimWrapper'), (('--amp',), 'AmpOptimWrapper'),
                                           (('--opt-level', 'O1'), 'AmpOptimWrapper'),
                                           (('--opt-level', 'O0'), 'OptimWrapper')])
def test_amp_flags_choose_the_optimizer_wrapper(clean_env, argv, wrapper, monkeypatch):
    monkeypatch.setattr(amp_flags, 'cpu_has_native_bfloat16', lambda: True)
    cfg = setup_train_config(load_config(DEMO), _train_args(*argv))
    assert cfg.optim_wrapper.type == wrapper


def test_resume_seed_and_determinism_reach_the_config(clean_env):
    cfg = setup_train_config(load_config(DEMO), _train_args('--resume', '--deterministic'))
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.randomness == dict(seed=None, deterministic=True)
    cfg = setup_train_config(load_config(DEMO), _train_args('--resume', 'a.pth', '--seed', '3'))
    assert cfg.resume is True and cfg.load_from == 'a.pth'
    assert cfg.randomness == dict(seed=3, deterministic=False)


def test_cfg_options_override_entries():
    cfg = load_config(DEMO, {'train_dataloader.batch_size': 2})
    assert isinstance(cfg, Config) and cfg.train_dataloader.batch_size == 2


def test_test_flags_add_the_dump_and_the_drawing(clean_env, tmp_path):
    args = argparse.Namespace(config=DEMO, checkpoint='c.pth', work_dir=None, out=str(tmp_path / 'r.pkl'),
                              show=False, show_dir=str(tmp_path / 'vis'), show_gt=True, launcher='none',
                              device=None)
    cfg = setup_test_config(load_config(DEMO), args)
    assert cfg.load_from == 'c.pth'
    assert cfg.test_evaluator[-1] == dict(type='DumpResults', out_file_path=str(tmp_path / 'r.pkl'))
    hook = cfg.default_hooks.visualization
    assert hook.draw and hook.draw_gt and hook.test_out_dir == str(tmp_path / 'vis')
    args.out = 'results.json'
    with pytest.raises(ValueError, match='.pkl'):
        setup_test_config(load_config(DEMO), args)


def test_pinned_memory_is_turned_off_on_a_cpu_run(clean_env):
    coco = os.path.join(os.path.dirname(DEMO), 'ssd300_coco.py')
    cfg = load_config(coco)
    assert cfg.train_dataloader.pin_memory, 'the COCO config pins memory for accelerators'
    args = _train_args('--device', 'cpu')
    args.config = coco
    cfg = setup_train_config(cfg, args)
    assert not cfg.train_dataloader.pin_memory and not cfg.val_dataloader.pin_memory


@pytest.mark.parametrize('scope_line', ["default_scope = 'mmdet'\n", ''])
def test_mmdetection_scope_or_none_builds_with_ours(tmp_path, scope_line):
    config = tmp_path / 'mmdet_style.py'
    config.write_text(f"_base_ = ['{os.path.abspath(DEMO)}']\n")
    cfg = load_config(str(config))
    assert cfg.default_scope == 'ssd_npu'
    bare = tmp_path / 'bare.py'
    bare.write_text(scope_line + 'model = dict(type="SSD")\n')
    assert load_config(str(bare)).default_scope == 'ssd_npu'


def test_mmdet_package_bases_resolve_to_our_configs(tmp_path):
    config = tmp_path / 'mine.py'
    config.write_text("_base_ = 'mmdet::ssd/ssd300_coco.py'\ntrain_dataloader = dict(batch_size=2)\n")
    cfg = load_config(str(config))
    assert cfg.model.backbone.type == 'SSDVGG' and cfg.train_dataloader.batch_size == 2
    assert [path.name for path in tmp_path.iterdir()] == ['mine.py']  # the rewritten copy is gone


def test_mmdet_package_bases_without_an_equivalent_are_named(tmp_path):
    config = tmp_path / 'mine.py'
    config.write_text("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n")
    with pytest.raises(UsageError, match='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py.*ssd/ssd300'):
        load_config(str(config))
