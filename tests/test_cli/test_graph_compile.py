"""Which ``torch.compile`` backend ``--compile`` / ``compile=...`` uses on each device.

On npu the backend comes from torch-npu: torchair's graph engine (checked against the released
wheels in tests/test_npu), else Inductor through Triton-Ascend, else a start-up error. Here
torch_npu is a stand-in of modules in ``sys.modules``.
"""
import importlib.machinery
import sys
import types

import pytest
import torch
import torch.nn as nn

from ssd_npu.cli import graph_compile
from ssd_npu.cli.graph_compile import compile_model, resolve_backend, torch_release
from ssd_npu.errors import UsageError


def stand_in_module(monkeypatch, name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__path__ = []  # a package in which the import system finds nothing else
    vars(module).update(attributes)
    monkeypatch.setitem(sys.modules, name, module)
    return module


@pytest.fixture
def torch_npu_without_torchair(monkeypatch):
    stand_in_module(monkeypatch, 'torch_npu')
    stand_in_module(monkeypatch, 'torch_npu.dynamo')
    monkeypatch.setattr(graph_compile, 'has_triton_ascend', lambda: False)


class CompilerConfig:
    """Stands in for torchair.CompilerConfig."""


def graph_engine(gm, example_inputs):
    """Stands in for the backend torchair.get_npu_backend returns."""
    return gm


@pytest.fixture
def torchair(torch_npu_without_torchair, monkeypatch):
    calls = []

    def get_npu_backend(*, compiler_config=None):
        calls.append(compiler_config)
        return graph_engine

    stand_in_module(monkeypatch, 'torch_npu.dynamo.torchair', get_npu_backend=get_npu_backend,
                    CompilerConfig=CompilerConfig)
    return calls


def test_npu_compiles_with_torchairs_graph_engine(torchair):
    options = resolve_backend({'mode': 'default'}, 'npu')
    assert options == {'mode': 'default', 'backend': graph_engine}
    assert len(torchair) == 1 and isinstance(torchair[0], CompilerConfig)


def test_a_configured_backend_is_kept_on_every_device(torchair):
    for device_type in ('npu', 'cuda', 'cpu'):
        assert resolve_backend({'backend': 'aot_eager'}, device_type) == {'backend': 'aot_eager'}
    assert not torchair, 'torchair is not built when a backend is named'


def test_npu_without_torchair_uses_inductor_through_triton_ascend(torch_npu_without_torchair, monkeypatch):
    monkeypatch.setattr(graph_compile, 'has_triton_ascend', lambda: True)
    assert resolve_backend({}, 'npu') == {'backend': 'inductor'}


def test_npu_without_any_graph_backend_stops_at_start_up_naming_what_to_install(torch_npu_without_torchair):
    with pytest.raises(UsageError, match=r'torchair.*pip install triton-ascend.*compile\.backend=aot_eager'):
        resolve_backend({}, 'npu')


def test_cpu_inductor_needs_a_torch_that_computes_the_loss_right(monkeypatch):
    monkeypatch.setattr(graph_compile, 'torch_release', lambda: (2, 8))
    for options in ({}, {'backend': 'inductor'}):
        with pytest.raises(UsageError, match=r'needs torch >= 2\.14 .*compile\.backend=aot_eager'):
            resolve_backend(options, 'cpu')
    assert resolve_backend({'backend': 'aot_eager'}, 'cpu') == {'backend': 'aot_eager'}
    assert resolve_backend({}, 'cuda') == {}
    monkeypatch.setattr(graph_compile, 'torch_release', lambda: (2, 14))
    assert resolve_backend({}, 'cpu') == {}


def test_torch_release_reads_local_versions():
    assert torch_release('2.6.0+cpu') == (2, 6)
    assert torch_release('2.14.1') == (2, 14)
    assert torch_release() == tuple(int(part) for part in torch.__version__.split('.')[:2])


class CompiledStandIn(nn.Module):
    """Records what SSD.compile_graphs would be given."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)
        self.compiled_with = None

    def compile_graphs(self, **options):
        self.compiled_with = options


def test_compile_model_picks_the_backend_of_the_models_device(monkeypatch):
    model = CompiledStandIn()
    chosen = []

    def resolve(options, device_type):
        chosen.append(device_type)
        return {**options, 'backend': 'eager'}

    monkeypatch.setattr(graph_compile, 'resolve_backend', resolve)
    compile_model(nn.parallel.DataParallel(model), {'mode': 'default'})
    assert chosen == ['cpu']
    assert model.compiled_with == {'mode': 'default', 'backend': 'eager'}


def test_compile_model_refuses_models_without_static_graphs():
    with pytest.raises(TypeError, match='only SSD detectors support compile=True'):
        compile_model(nn.Linear(1, 1), {})
