import pytest
from mmengine.hooks import Hook
from mmengine.registry import VISUALIZERS, DefaultScope

from ssd_npu.cli.friendly_errors import explain, friendly_errors
from ssd_npu.registry import HOOKS
from ssd_npu.setup_env import register_all_modules


@pytest.fixture(autouse=True)
def _registered():
    register_all_modules()


def _error_of(cfg: dict) -> Exception:
    with pytest.raises(Exception) as info:
        HOOKS.build(cfg)
    return info.value


def test_unknown_type_names_the_closest_registered_types():
    message = explain(_error_of(dict(type='ThroughputHok')))
    assert 'Unknown hook type "ThroughputHok"' in message
    assert 'Did you mean: ThroughputHook' in message


def test_misspelt_argument_names_the_accepted_ones():
    message = explain(_error_of(dict(type='DetVisualizationHook', score_thresh=0.3)))
    assert 'DetVisualizationHook has no argument "score_thresh"' in message
    assert 'Did you mean: score_thr' in message


def test_missing_file_points_to_the_data_layout():
    message = explain(FileNotFoundError('data/coco/annotations/instances_train2017.json not found'))
    assert 'instances_train2017.json' in message and 'data/coco/train2017/' in message


def test_friendly_errors_exits_with_a_short_message(capsys, monkeypatch):
    monkeypatch.delenv('SSD_NPU_DEBUG', raising=False)
    with pytest.raises(SystemExit) as info, friendly_errors():
        HOOKS.build(dict(type='NumClassCheckHok'))
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith('ERROR: Unknown hook type "NumClassCheckHok"')
    assert 'Traceback' not in err


def test_missing_checkpoint_is_not_explained_as_missing_data():
    message = explain(FileNotFoundError('work_dirs/epoch_3.pth can not be found.'))
    assert message == 'FileNotFoundError: work_dirs/epoch_3.pth can not be found.'


class _FailAtIteration(Hook):
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter == 2:
            raise RuntimeError('device lost in the middle of training')


def test_errors_after_the_start_keep_their_traceback_in_the_log(make_runner, toy_dataset, capsys, tmp_path):
    with pytest.raises(SystemExit) as info, friendly_errors() as errors:
        runner = make_runner(toy_dataset(length=8), [_FailAtIteration()])
        errors.watch(runner)
        runner.train()
    assert info.value.code == 1
    log = next((tmp_path / 'work').glob('*/*.log')).read_text()
    for where in (log, capsys.readouterr().out):
        assert 'Stopped by an error at epoch 0, iteration 2' in where, where[-1500:]
        assert 'Traceback (most recent call last)' in where and 'in after_train_iter' in where
        assert 'RuntimeError: device lost in the middle of training' in where


def test_errors_while_the_runner_builds_its_data_stay_short(make_runner, capsys, monkeypatch):
    monkeypatch.delenv('SSD_NPU_DEBUG', raising=False)
    with pytest.raises(SystemExit) as info, friendly_errors() as errors:
        runner = make_runner(dict(type='CocoDatset'), [])
        errors.watch(runner)
        runner.train()  # the dataset is built here, before the loop starts
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith('ERROR: Unknown dataset type "CocoDatset"') and 'Traceback' not in err


def test_unknown_type_under_another_scope_names_the_scope_and_suggests_from_that_registry():
    with DefaultScope.overwrite_default_scope('mmdet'), pytest.raises(KeyError) as info:
        VISUALIZERS.build(dict(type='DetLocalVisualizer', name='scope_test'))
    message = explain(info.value)
    assert message.startswith('Unknown visualizer type "DetLocalVisualizer" in the config: not in the '
                              '"visualizer" registry of scope "mmengine"')
    assert "default_scope = 'ssd_npu'" in message
    assert 'Did you mean: DetLocalVisualizer' not in message  # never the very name that failed
