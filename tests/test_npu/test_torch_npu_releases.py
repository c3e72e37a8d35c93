"""What each torch-npu wheel here declares, against torch_npu_uses.RELEASES: its torch pin and
Requires-Python, the graph backends it offers torch.compile (by entry point, or registered when
``torch_npu.dynamo`` is imported), and the ``torch.backends`` entry point through which ``import torch``
imports torch_npu. The oldest and newest supported releases must both be here.
"""
import ast
from typing import List, Optional

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from torch_npu_import_chain import executed, resolved, scope_of
from torch_npu_uses import RELEASES, Release
from torch_npu_wheel import (
    Definition,
    Outside,
    Wheel,
    download_command,
    load,
    missing_wheel_message,
    version_in_name,
    wheel_dir,
    wheel_params,
    wheel_paths,
)

WHEELS = wheel_paths()
# The oldest and the newest torch-npu release the product supports (requirements/npu.txt, README).
SUPPORTED = ('2.6.0.post5', '2.14.0')
DYNAMO_GROUP = 'torch_dynamo_backends'
AUTOLOAD_GROUP = 'torch.backends'  # torch/__init__.py _import_device_backends
REGISTER_BACKEND = ('torch._dynamo.register_backend', 'torch._dynamo.backends.registry.register_backend')
DYNAMO_MODULE = 'torch_npu.dynamo'


def release_of(path) -> Release:
    """The wheel's RELEASES entry; the test fails, naming the wheel, where it has none."""
    if path is None:
        pytest.fail(missing_wheel_message(tuple(RELEASES)))
    wheel = load(path)
    assert version_in_name(path) == wheel.version, f'{wheel}: its METADATA says version {wheel.version}'
    assert wheel.version in RELEASES, (
        f'{wheel}: torch-npu {wheel.version} has no entry in RELEASES (tests/test_npu/torch_npu_uses.py); '
        'add one, with what this release declares')
    return RELEASES[wheel.version]


@pytest.mark.parametrize('version', SUPPORTED)
def test_the_oldest_and_newest_supported_wheels_are_here(version):
    present = [version_in_name(path) for path in WHEELS]
    assert version in present, (f'no torch-npu {version} wheel in {wheel_dir()} (found: {present or "none"});'
                                f' download it: {download_command(version)}')
    assert version in RELEASES, f'RELEASES has no entry for the supported torch-npu {version}'


def test_every_release_listed_has_its_wheel_here():
    present = {version_in_name(path) for path in WHEELS}
    missing = [version for version in RELEASES if version not in present]
    assert not missing, 'RELEASES lists torch-npu releases whose wheels are not here: ' + '; '.join(
        download_command(version) for version in missing)


@pytest.mark.parametrize('path', wheel_params())
def test_the_wheel_pins_the_recorded_torch_and_python(path):
    release = release_of(path)
    wheel = load(path)
    torch = [Requirement(line) for line in wheel.metadata.get_all('Requires-Dist') or []
             if canonicalize_name(Requirement(line).name) == 'torch']
    assert len(torch) == 1, f'{wheel}: {len(torch)} Requires-Dist on torch'
    pin = f'{torch[0].name}{torch[0].specifier}'
    assert pin == release.torch_pin and torch[0].marker is None, (
        f'{wheel}: requires {torch[0]}, RELEASES says {release.torch_pin}')
    requires_python = wheel.metadata['Requires-Python']
    assert requires_python == release.requires_python, (
        f'{wheel}: Requires-Python is {requires_python!r}, RELEASES says {release.requires_python!r}')


def entry_point_problems(wheel: Wheel, group: str) -> List[str]:
    """The entry points of ``group`` whose ``module:attribute`` the wheel does not define."""
    problems = []
    points = wheel.entry_points()
    for name, value in (points[group].items() if points.has_section(group) else []):
        module, _, attribute = value.strip().partition(':')
        try:
            found = wheel.resolve(f'{module}.{attribute}')
        except LookupError as error:
            found = error
        if not isinstance(found, Definition):
            problems.append(f'{group} {name} = {value}: the wheel does not define it ({found})')
    return problems


def entry_point_names(wheel: Wheel, group: str) -> dict:
    points = wheel.entry_points()
    return dict(points[group].items()) if points.has_section(group) else {}


@pytest.mark.parametrize('path', wheel_params())
def test_the_wheel_declares_the_recorded_dynamo_backends(path):
    release = release_of(path)
    wheel = load(path)
    names = tuple(entry_point_names(wheel, DYNAMO_GROUP))
    assert sorted(names) == sorted(release.dynamo_entry_points), (
        f'{wheel}: [{DYNAMO_GROUP}] declares {names}, RELEASES says {release.dynamo_entry_points}')
    problems = entry_point_problems(wheel, DYNAMO_GROUP)
    assert not problems, f'{wheel}: ' + '; '.join(problems)


def constant(wheel: Wheel, module: str, node: Optional[ast.AST]) -> object:
    """The value of ``node``: a literal, or a module-level constant of ``module``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        found = wheel.lookup(module, node.id)
        if isinstance(found, Definition) and isinstance(found.node, ast.Assign):
            return constant(wheel, module, found.node.value)
    return None if node is None else f'<{ast.unparse(node)}>'


def argument(call: ast.Call, position: int, name: str) -> Optional[ast.AST]:
    if len(call.args) > position:
        return call.args[position]
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def backends_registered_on_import(wheel: Wheel, module: str = DYNAMO_MODULE) -> List[object]:
    """The backend names that importing ``module`` registers with torch._dynamo: its module-level
    calls of ``register_backend`` (``name``, its second parameter), also through a function of the
    module that passes one of its own parameters on as the name; and ``@register_backend``
    functions (named by ``name=``, else the function's name)."""
    top = scope_of(wheel, wheel.module_path(module), '')

    def is_register(node: ast.AST, scope) -> bool:
        found = resolved(wheel, scope, node)
        return isinstance(found, Outside) and found.dotted in REGISTER_BACKEND

    names = []
    for node in executed(top.node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                call = decorator if isinstance(decorator, ast.Call) else None
                if is_register(call.func if call else decorator, top):
                    given = argument(call, 1, 'name') if call else None
                    names.append(constant(wheel, module, given) if given else node.name)
        if not isinstance(node, ast.Call):
            continue
        if is_register(node.func, top):
            names.append(constant(wheel, module, argument(node, 1, 'name')))
            continue
        wrapper = resolved(wheel, top, node.func)
        if not (isinstance(wrapper, Definition) and isinstance(wrapper.node, ast.FunctionDef)
                and wrapper.module == module):
            continue
        inner = scope_of(wheel, wrapper.path, wrapper.qualname)
        parameters = [a.arg for a in (*wrapper.node.args.posonlyargs, *wrapper.node.args.args)]
        defaults = dict(zip(parameters[::-1], wrapper.node.args.defaults[::-1]))
        for call in inner.nodes:
            if isinstance(call, ast.Call) and is_register(call.func, inner):
                given = argument(call, 1, 'name')
                if isinstance(given, ast.Name) and given.id in parameters:
                    index = parameters.index(given.id)
                    given = argument(node, index, given.id) or defaults.get(given.id)
                names.append(constant(wheel, module, given))
    return names


@pytest.mark.parametrize('path', wheel_params())
def test_torch_npu_dynamo_registers_the_recorded_backends_when_imported(path):
    release = release_of(path)
    wheel = load(path)
    names = backends_registered_on_import(wheel)
    assert sorted(names) == sorted(release.dynamo_backends_on_import), (
        f'{wheel}: importing {DYNAMO_MODULE} registers {names}, '
        f'RELEASES says {release.dynamo_backends_on_import}')
    if not release.dynamo_entry_points:
        assert names, f'{wheel}: declares no {DYNAMO_GROUP} entry points and registers no backend on import'


@pytest.mark.parametrize('path', wheel_params())
def test_import_torch_autoloads_torch_npu_through_the_recorded_entry_point(path):
    release = release_of(path)
    wheel = load(path)
    points = entry_point_names(wheel, AUTOLOAD_GROUP)
    assert points == release.torch_backends, (
        f'{wheel}: [{AUTOLOAD_GROUP}] is {points}, RELEASES says {release.torch_backends}')
    problems = entry_point_problems(wheel, AUTOLOAD_GROUP)
    assert not problems, f'{wheel}: ' + '; '.join(problems)
    for name, value in points.items():
        module, _, attribute = value.partition(':')
        function = wheel.resolve(f'{module}.{attribute}').node
        shown = f'{AUTOLOAD_GROUP} {name} = {value}'
        assert isinstance(function, ast.FunctionDef), f'{wheel}: {shown} is not a function'
        args = function.args
        required = (len(args.posonlyargs) + len(args.args) - len(args.defaults)
                    + sum(default is None for default in args.kw_defaults))
        assert required == 0, f'{wheel}: torch calls {shown} without arguments; it needs {required}'
