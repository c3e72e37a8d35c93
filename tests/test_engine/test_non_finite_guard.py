import pytest
import torch
from mmengine.logging import MessageHub, MMLogger

from ssd_npu.engine.non_finite_guard import NonFiniteLossGuard
from ssd_npu.errors import NonFiniteLossError


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / 'guard.log'
    MMLogger.get_instance(f'test_non_finite_guard_{tmp_path.name}', log_file=str(path))
    MessageHub.get_instance(f'test_non_finite_guard_{tmp_path.name}').update_info('iter', 41)
    return path


def test_finite_loss_is_allowed_and_resets_the_count(log_file):
    guard = NonFiniteLossGuard(max_consecutive=2)
    assert not guard.allows(torch.tensor(float('nan')), ['a.jpg'])
    assert guard.allows(torch.tensor(1.5), ['b.jpg'])
    assert guard.consecutive == 0 and guard.skipped == 1


def test_non_finite_loss_is_skipped_with_iteration_and_images(log_file):
    guard = NonFiniteLossGuard(max_consecutive=3)
    assert not guard.allows(torch.tensor(float('inf')), ['img/0001.jpg', 'img/0002.jpg'])
    output = log_file.read_text()
    assert 'iteration 42' in output
    assert 'img/0001.jpg, img/0002.jpg' in output


def test_consecutive_non_finite_losses_stop_the_run(log_file):
    guard = NonFiniteLossGuard(max_consecutive=2)
    assert not guard.allows(torch.tensor(float('nan')), ['a.jpg'])
    with pytest.raises(NonFiniteLossError, match='2 consecutive non-finite losses'):
        guard.allows(torch.tensor(float('nan')), ['a.jpg'])


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match='max_consecutive'):
        NonFiniteLossGuard(max_consecutive=0)
