import argparse
import uuid

import pytest
from mmengine.logging import MMLogger
from repo_paths import CONFIGS_DIR

from ssd_npu.cli import (
    amp_flags,
    build_test_parser,
    build_train_parser,
    setup_test_config,
    setup_train_config,
    translate_legacy_test_flags,
    translate_legacy_train_flags,
)
from ssd_npu.config import load_config
from ssd_npu.errors import UsageError

DEMO = str(CONFIGS_DIR / 'synthetic_demo.py')


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


def test_gpus_names_the_replacement():
    with pytest.raises(UsageError, match='--gpus was removed.*NPROC=N bash run_8p.sh'):
        _train('--gpus', '2')


@pytest.mark.parametrize('argv', [('--gpu-ids', '0', '1'), ('--gpu-id', '1', '--gpu-ids', '0')])
def test_several_device_ids_name_one_process_per_device(argv):
    with pytest.raises(UsageError, match=r'one process drives one device.*NPROC=2 bash run_8p.sh.*'
                                         r'ASCEND_RT_VISIBLE_DEVICES=0,1'):
        _train(*argv)


class _FakeCuda:
    """torch.cuda of a host with two GPUs, recording which device is made current."""

    def __init__(self):
        self.current = 0

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return 2

    def set_device(self, index: int) -> None:
        self.current = index


@pytest.fixture
def log_file(tmp_path):
    """A fresh current MMLogger writing to a file, to read the notes the flags logged."""
    path = tmp_path / 'flags.log'
    MMLogger.get_instance(f'test-{uuid.uuid4().hex}', log_file=str(path), log_level='INFO')
    return path


@pytest.fixture
def two_gpus(monkeypatch):
    import torch

    fake = _FakeCuda()
    for name in ('is_available', 'device_count', 'set_device'):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    monkeypatch.setenv('SSD_NPU_DEVICE', 'cuda')
    return fake


@pytest.mark.parametrize('argv', [('--gpu-ids', '1'), ('--gpu-id', '1')])
def test_the_old_ports_single_device_id_picks_this_processs_device(two_gpus, log_file, argv):
    setup_train_config(load_config(DEMO), _train(*argv))
    assert two_gpus.current == 1
    assert f'{" ".join(argv)}: this process runs on cuda:1' in log_file.read_text()
    two_gpus.current = 0
    setup_test_config(load_config(DEMO), _test(*argv))  # tools/test.py's too
    assert two_gpus.current == 1
    with pytest.raises(UsageError, match='--gpu-ids 2: this process sees 2 cuda device'):
        setup_train_config(load_config(DEMO), _train('--gpu-ids', '2'))


def test_a_device_id_is_left_to_local_rank_under_a_launcher(two_gpus, log_file):
    setup_train_config(load_config(DEMO), _train('--gpu-ids', '1', '--launcher', 'pytorch'))
    assert two_gpus.current == 0
    assert "--gpu-ids 1: ignored; under the pytorch launcher LOCAL_RANK picks each process's device" in (
        log_file.read_text())


def test_the_old_ports_command_line_runs_on_cpu_with_a_note(log_file, monkeypatch):
    # test/train_performance_1p.sh of the Ascend ModelZoo port
    monkeypatch.setattr(amp_flags, 'cpu_has_native_bfloat16', lambda: True)
    cfg = setup_train_config(load_config(DEMO), _train('--seed', '0', '--gpu-ids', '0', '--opt-level', 'O1'))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.randomness.seed == 0
    assert '--gpu-ids 0: a CPU run has no device to select; ignored' in log_file.read_text()
    # tools/test.py takes it too
    setup_test_config(load_config(DEMO), _test('--gpu-id', '0'))


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


def test_tta_wraps_the_model_as_mmdetection_3x_does():
    cfg = setup_test_config(load_config(DEMO), _test('--tta'))
    assert cfg.model['type'] == 'DetTTAModel' and cfg.model['module']['type'] == 'SSD'
    assert cfg.test_dataloader.dataset.pipeline[1]['type'] == 'TestTimeAug'


def test_tta_with_compile_is_a_usage_error():
    with pytest.raises(UsageError, match='--tta runs the eager model'):
        setup_test_config(load_config(DEMO), _test('--tta', '--compile'))
