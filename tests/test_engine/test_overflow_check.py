"""OverflowCheck: isfinite where the device writes inf/NaN, the float-status flag where it saturates."""
import sys
import types

import pytest
import torch

from ssd_npu.engine.non_finite_guard import NonFiniteLossGuard
from ssd_npu.engine.overflow_check import OverflowCheck


class FakeFloatStatus:
    """torch_npu.npu.utils's float-status API of a 910A (is_support_inf_nan() is False)."""

    def __init__(self, supports_inf_nan: bool = False):
        self.raised = False
        self.clears = 0
        self.supports_inf_nan = supports_inf_nan

    def get_npu_overflow_flag(self) -> bool:
        return self.raised

    def clear_npu_overflow_flag(self) -> None:
        self.raised = False
        self.clears += 1


@pytest.fixture
def float_status(monkeypatch):
    status = FakeFloatStatus()
    utils = types.SimpleNamespace(is_support_inf_nan=lambda: status.supports_inf_nan,
                                  get_npu_overflow_flag=status.get_npu_overflow_flag,
                                  clear_npu_overflow_flag=status.clear_npu_overflow_flag)
    fake_torch_npu = types.SimpleNamespace(npu=types.SimpleNamespace(utils=utils))
    monkeypatch.setitem(sys.modules, 'torch_npu', fake_torch_npu)
    return status


@pytest.mark.parametrize('value', [float('inf'), float('nan')])
def test_inf_and_nan_are_overflow_where_the_device_writes_them(value):
    check = OverflowCheck('cpu')
    assert check.device_flag is None
    assert check.found_here([torch.tensor([1.0, value])])
    assert not check.found_here([torch.ones(3)])


def test_a_saturating_npu_is_judged_by_its_float_status_flag(float_status):
    check = OverflowCheck('npu')
    saturated_loss = torch.tensor(65504.0)  # what a 910A writes for an fp16 overflow: finite
    assert not check.found_here([saturated_loss])
    float_status.raised = True
    assert check.found_here([saturated_loss])
    check.clear()
    assert not float_status.raised and not check.found_here()


def test_an_npu_with_inf_nan_support_uses_isfinite(float_status):
    float_status.supports_inf_nan = True
    float_status.raised = True
    check = OverflowCheck('npu')
    assert check.device_flag is None and not check.found_here([torch.ones(2)])


def test_the_loss_guard_skips_a_saturated_loss_and_clears_the_flag_for_the_backward(float_status):
    guard = NonFiniteLossGuard(max_consecutive=3)
    check = OverflowCheck('npu')
    float_status.raised = True
    assert not guard.allows(torch.tensor(65504.0), ['a.jpg'], check)
    assert guard.skipped == 1 and not float_status.raised
    assert guard.allows(torch.tensor(1.5), ['b.jpg'], check)
    assert float_status.clears == 2  # once after each forward
