import argparse
import os

import pytest

from ssd_npu.engine.command_line import (
    build_test_parser,
    build_train_parser,
    load_config,
    setup_test_config,
    setup_train_config,
    translate_legacy_test_flags,
    translate_legacy_train_flags,
)
from ssd_npu.engine.friendly_errors import UsageError

DEMO = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'configs', 'synthetic_demo.py')


def _train(*argv: str) -> argparse.Namespace:
    args = build_train_parser().parse_args([DEMO, *argv])
    translate_legacy_train_flags(args)
    return args


def _test(*argv: str) -> argparse.Namespace:
    args = build_test_parser().parse_args([DEMO, 'c.pth', *argv])
    translate_legacy_test_flags(args)
    return args


@pytest.fixture(autouse=True)
def cpu(monkeypatch):
    monkeypatch.setenv('SSD_NPU_DEVICE', 'cpu')
    for name in ('RANK', 'RANK_SIZE', 'NPUID', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)


def test_resume_from_and_auto_resume_are_resume():
    assert _train('--resume-from', 'a.pth').resume == 'a.pth'
    assert _train('--auto-resume').resume == 'auto'
    with pytest.raises(UsageError, match='pass only --resume'):
        _train('--resume', '--auto-resume')


def test_options_are_cfg_options_and_no_validate_drops_the_validation():
    args = _train('--options', 'train_dataloader.batch_size=2', '--no-validate')
    cfg = setup_train_config(load_config(DEMO, args.cfg_options), args)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None


@pytest.mark.parametrize('flag', [('--gpus', '2'), ('--gpu-id', '1'), ('--gpu-ids', '0', '1')])
def test_device_count_flags_name_the_replacement(flag):
    with pytest.raises(UsageError, match=f'{flag[0]} was removed.*NPROC=N bash run_8p.sh'):
        _train(*flag)


def test_eval_bbox_is_the_default_metric_and_others_are_explained():
    args = _test('--eval', 'bbox')
    cfg = setup_test_config(load_config(DEMO), args)
    assert cfg.test_evaluator.type == 'CocoMetric'
    with pytest.raises(UsageError, match='--eval segm'):
        _test('--eval', 'bbox', 'segm')


def test_format_only_and_eval_options_reach_the_coco_metric(tmp_path):
    args = _test('--format-only', '--eval-options', f'jsonfile_prefix={tmp_path}/res', 'classwise=True')
    evaluator = setup_test_config(load_config(DEMO), args).test_evaluator
    assert (evaluator.format_only, evaluator.outfile_prefix, evaluator.classwise) == (
        True, f'{tmp_path}/res', True)


def test_show_flags_reach_the_visualization_hook():
    args = _test('--show-dir', 'vis', '--show-score-thr', '0.5', '--wait-time', '2')
    hook = setup_test_config(load_config(DEMO), args).default_hooks.visualization
    # a relative --show-dir lands in <work_dir>/<timestamp>/vis, as in mmdetection 3.3
    assert (hook.test_out_dir, hook.score_thr, hook.wait_time, hook.draw) == ('vis', 0.5, 2.0, True)


@pytest.mark.parametrize('argv, message', [(('--fuse-conv-bn',), 'not supported'),
                                           (('--tmpdir', 'x'), 'drop it')])
def test_flags_without_a_3x_meaning_say_so(argv, message):
    with pytest.raises(UsageError, match=message):
        _test(*argv)


def test_tta_is_a_clear_not_supported():
    with pytest.raises(UsageError, match='--tta is not supported'):
        setup_test_config(load_config(DEMO), _test('--tta'))
