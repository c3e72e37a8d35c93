"""mmdetection's own SSD configs, byte for byte as its 3.3.0 and 2.25.3 wheels ship them, train and test here.

The only overrides are where the data is (``--data-root``, a COCO-layout set whose categories are
COCO's 80) and the size of the run (a batch of 2, one pass over the data, one epoch) so that each
config costs one training iteration on a CPU. The VGG16 ImageNet weights the SSD300/512 configs
ask for are a random file put where the offline message says (``$SSD_NPU_CHECKPOINT_DIR``).
"""
import re
from pathlib import Path

import pytest
import torch
from mmdet_release import extract_configs, write_coco2017_layout

from ssd_npu.models.backbones import SSDVGG

CONFIGS_3_3 = ['ssd300_coco.py', 'ssd512_coco.py', 'ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py']
CONFIGS_2_25 = ['ssd300_coco.py', 'ssd512_coco.py', 'ssdlite_mobilenetv2_scratch_600e_coco.py']
ONE_ITERATION_3_3 = ['train_dataloader.batch_size=2', 'train_dataloader.dataset.times=1',
                     'train_cfg.max_epochs=1']
ONE_ITERATION_2_25 = ['data.samples_per_gpu=2', 'data.train.times=1', 'runner.max_epochs=1']


@pytest.fixture(scope='module')
def coco2017(tmp_path_factory) -> Path:
    return write_coco2017_layout(tmp_path_factory.mktemp('coco') / 'coco')


@pytest.fixture(scope='module')
def offline_env(tmp_path_factory) -> dict:
    """``open-mmlab://vgg16_caffe`` resolved from a local folder, as the offline message tells a user."""
    folder = tmp_path_factory.mktemp('checkpoints')
    vgg = SSDVGG(depth=16, with_last_pool=False, ceil_mode=True, out_indices=(3, 4),
                 out_feature_indices=(22, 34))
    weights = {key: value for key, value in vgg.state_dict().items() if key.startswith('features.')}
    torch.save(weights, folder / 'vgg16_caffe-292e1171.pth')
    return dict(SSD_NPU_CHECKPOINT_DIR=str(folder))


@pytest.fixture(scope='module')
def configs_3_3(tmp_path_factory) -> Path:
    return extract_configs('3.3.0', tmp_path_factory.mktemp('mmdet-3.3.0')) / 'ssd'


@pytest.fixture(scope='module')
def configs_2_25(tmp_path_factory) -> Path:
    return extract_configs('2.25.3', tmp_path_factory.mktemp('mmdet-2.25.3')) / 'ssd'


def _trained_one_iteration(log: str) -> bool:
    return re.search(r'Epoch\(train\) +\[1\]\[1/1\]', log) is not None


def _train(config: Path, options: list, data_root: Path, env: dict, tmp_path: Path, run_tool) -> str:
    """Run tools/train.py into ``tmp_path/work``; check it trained one iteration; return its log."""
    work = tmp_path / 'work'
    overrides = ['--cfg-options', *options] if options else []
    train = run_tool(['python', 'tools/train.py', str(config), '--work-dir', str(work), '--data-root',
                      str(data_root), *overrides], tmp_path, env=env)
    assert train.returncode == 0, train.stderr[-3000:]
    log = train.stdout + train.stderr
    assert _trained_one_iteration(log) and (work / 'epoch_1.pth').exists()
    return log


def _coco_metrics(log: str) -> dict:
    return dict(re.findall(r'(coco/bbox_mAP\w*): (-?\d\.\d+)', log))


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS_3_3)
def test_mmdetection_3_3_config_trains_and_tests_as_shipped(name, configs_3_3, coco2017, offline_env,
                                                           tmp_path, run_tool):
    config = configs_3_3 / name
    assert "default_scope = 'mmdet'" in (configs_3_3.parent / '_base_' / 'default_runtime.py').read_text()
    log = _train(config, ONE_ITERATION_3_3, coco2017, offline_env, tmp_path, run_tool)
    assert "default_scope is 'mmdet'" in log, 'says that ssd_npu stands in for mmdetection'

    checkpoint = tmp_path / 'work' / 'epoch_1.pth'
    test = run_tool(['python', 'tools/test.py', str(config), str(checkpoint), '--work-dir',
                     str(tmp_path / 'test'), '--data-root', str(coco2017)], tmp_path, env=offline_env)
    assert test.returncode == 0, test.stderr[-3000:]
    assert len(_coco_metrics(test.stdout)) == 6, 'mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l of the val split'


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS_2_25)
def test_mmdetection_2_25_config_trains_when_converted_in_memory(name, configs_2_25, coco2017, offline_env,
                                                                 tmp_path, run_tool):
    log = _train(configs_2_25 / name, ONE_ITERATION_2_25, coco2017, offline_env, tmp_path, run_tool)
    assert 'tools/misc/upgrade_config.py' in log, 'the warning shows the command that writes the 3.x config'


@pytest.mark.slow
def test_mmdetection_2_25_config_trains_after_the_upgrade_tool(configs_2_25, coco2017, offline_env, tmp_path,
                                                               run_tool):
    """The tool takes overrides in the 2.x key names and writes a 3.x config that trains as it is."""
    old, new = configs_2_25 / CONFIGS_2_25[2], tmp_path / 'ssdlite_3x.py'
    upgrade = run_tool(['python', 'tools/misc/upgrade_config.py', str(old), str(new), '--cfg-options',
                        *ONE_ITERATION_2_25], tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    assert 'samples_per_gpu' not in new.read_text()
    log = _train(new, [], coco2017, offline_env, tmp_path, run_tool)
    assert 'upgrade_config.py' not in log, 'a 3.x config: no conversion warning'
