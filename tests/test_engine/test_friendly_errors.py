import pytest

from ssd_npu.engine.friendly_errors import explain, friendly_errors
from ssd_npu.registry import HOOKS
from ssd_npu.utils import register_all_modules


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
