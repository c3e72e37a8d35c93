"""Every torch_npu name the product uses (torch_npu_uses.USES), checked in every torch-npu wheel here.

For each (wheel, name): where the wheel defines it, the parameters the product passes, the defaults,
base classes, attributes and string keys it relies on, and the branches it avoids or expects; for an
operator implemented in C++, the schema of the YAML file that registers it. A ``broken_in`` entry must
still fail its check on that release (else the entry is stale). Also the names torch_npu makes
importable under another name (ALIASES) and the torch name it replaces (ShardedGradScaler), each
reached by ``import torch_npu``.
"""
import ast
import functools
import re
from typing import Dict, List, Optional, Tuple

import pytest
import yaml
from torch_npu_import_chain import files_naming, import_chain, resolved, scopes
from torch_npu_uses import PROBES, RELEASES, USES, Probe, Use
from torch_npu_wheel import (
    ALIASES,
    Definition,
    Found,
    Outside,
    Unresolved,
    Wheel,
    load,
    missing_wheel_message,
    version_in_name,
    wheel_params,
    wheel_paths,
)

WHEELS = wheel_paths()
SHARDED_SCALER = 'torch.distributed.fsdp.sharded_grad_scaler.ShardedGradScaler'
OPERATOR_DOCS = 'torch_npu/_op_plugin_docs.py'
YAML_SCALARS = {'True': True, 'False': False, 'None': None}


def open_wheel(path) -> Wheel:
    if path is None:
        pytest.fail(missing_wheel_message(tuple(RELEASES)))
    return load(path)


def use_params() -> list:
    if not WHEELS:
        return [pytest.param(None, USES[0], id='no-wheel')]
    return [pytest.param(path, use, id=f'{version_in_name(path)}:{use.name}')
            for path in WHEELS for use in USES]


# -- Python definitions ---------------------------------------------------------------------------

def definition_of(wheel: Wheel, use: Use) -> Tuple[Optional[Definition], List[str]]:
    """Where the wheel defines ``use.name``: followed through imports, or, for a name outside
    torch_npu, the value the wheel replaces it with."""
    try:
        found = wheel.resolve(use.name)
    except Unresolved as error:
        return None, [f'does not resolve: {error}']
    if isinstance(found, Outside):
        values = {(r.value.path, r.value.qualname): r.value for r in wheel.replacements(found.dotted)
                  if r.called and isinstance(r.value, Definition)}
        if len(values) != 1:
            return None, [f'is outside torch_npu ({found}) and the wheel replaces it with '
                          f'{len(values)} values ({sorted(values)}), not one']
        found = next(iter(values.values()))
    return found, []


def function_node(wheel: Wheel, found: Definition) -> Tuple[Optional[ast.AST], bool]:
    """The function called when the product calls ``found`` (a class: its ``__init__``), and whether
    it is a method (its first parameter is the instance)."""
    if isinstance(found.node, ast.ClassDef):
        try:
            init = wheel.member(found, '__init__')
        except Unresolved:
            return None, True
        return (init.node if isinstance(init, Definition) else None), True
    if isinstance(found.node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        static = any(isinstance(d, ast.Name) and d.id == 'staticmethod' for d in found.node.decorator_list)
        return found.node, '.' in found.qualname and not static
    return None, False


def literal(node: ast.AST) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def signature_problems(wheel: Wheel, found: Definition, use: Use) -> List[str]:
    if not (use.positional or use.keywords or use.defaults):
        return []
    node, method = function_node(wheel, found)
    if node is None:
        return [f'{found} is not a function (nor a class with its own __init__) whose parameters can be read']
    args = node.args
    ordered = [a.arg for a in (*args.posonlyargs, *args.args)]
    if method and ordered[:1] in (['self'], ['cls']):
        ordered = ordered[1:]
    by_keyword = [a.arg for a in (*args.args, *args.kwonlyargs)]
    defaults = dict(zip([a.arg for a in (*args.posonlyargs, *args.args)][::-1], args.defaults[::-1]))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    problems = []
    if tuple(ordered[:len(use.positional)]) != use.positional:
        problems.append(f'positional parameters are {ordered}, the product passes '
                        f'{list(use.positional)} first')
    missing = [name for name in use.keywords if name not in by_keyword]
    if missing:
        problems.append(f'takes no keyword parameter {missing} (its parameters: {by_keyword})')
    for name, expected in use.defaults.items():
        if name not in defaults:
            problems.append(f'{name} has no default (the product relies on {expected!r})')
        elif literal(defaults[name]) != expected:
            problems.append(f'{name} defaults to {ast.unparse(defaults[name])}, not {expected!r}')
    return problems


def ancestors(wheel: Wheel, cls: Definition) -> List[Found]:
    """The base classes of ``cls``, theirs and so on (inside the wheel followed, outside it named)."""
    found, queue = [], list(wheel.bases(cls))
    while queue:
        base = queue.pop(0)
        found.append(base)
        if isinstance(base, Definition) and isinstance(base.node, ast.ClassDef):
            queue += wheel.bases(base)
    return found


def dotted(found: Found) -> str:
    return found.dotted if isinstance(found, Outside) else f'{found.module}.{found.qualname}'.rstrip('.')


def class_nodes(wheel: Wheel, found: Definition) -> List[ast.AST]:
    """``found``'s node, and for a class those of its base classes in the wheel."""
    if not isinstance(found.node, ast.ClassDef):
        return [found.node]
    bases = [base.node for base in ancestors(wheel, found)
             if isinstance(base, Definition) and isinstance(base.node, ast.ClassDef)]
    return [found.node, *bases]


def self_attributes(nodes: List[ast.AST]) -> List[str]:
    """The attributes that the methods in ``nodes`` assign on ``self``."""
    found = set()
    for node in nodes:
        for child in ast.walk(node):
            targets = child.targets if isinstance(child, ast.Assign) else (
                [child.target] if isinstance(child, (ast.AugAssign, ast.AnnAssign)) else [])
            for target in targets:
                for part in ast.walk(target):
                    if (isinstance(part, ast.Attribute) and isinstance(part.value, ast.Name)
                            and part.value.id == 'self'):
                        found.add(part.attr)
    return sorted(found)


def if_tests(node: ast.AST, branch: type) -> List[str]:
    """The ``if`` tests in ``node`` whose body holds ``branch`` (ast.Raise anywhere in the body,
    ast.Continue as one of its statements), and each operand of such a test's ``and``."""
    found = []
    for child in ast.walk(node):
        if not isinstance(child, ast.If):
            continue
        if branch is ast.Continue:
            taken = any(isinstance(stmt, ast.Continue) for stmt in child.body)
        else:
            taken = any(isinstance(part, branch) for stmt in child.body for part in ast.walk(stmt))
        if taken:
            found.append(ast.unparse(child.test))
            if isinstance(child.test, ast.BoolOp) and isinstance(child.test.op, ast.And):
                found += [ast.unparse(value) for value in child.test.values]
    return found


def python_problems(wheel: Wheel, use: Use) -> List[str]:
    found, problems = definition_of(wheel, use)
    if found is None:
        return problems
    if (found.path, found.qualname) != (use.defined_in, use.qualname):
        return [f'is defined at {found}, not at {use.defined_in}:{use.qualname} as USES says']
    problems += signature_problems(wheel, found, use)
    if use.bases or use.attributes:
        if not isinstance(found.node, ast.ClassDef):
            return problems + [f'{found} is not a class, so it has no bases or attributes']
        names = [dotted(base) for base in ancestors(wheel, found)]
        problems += [f'does not derive from {base} (its bases: {names})'
                     for base in use.bases if base not in names]
        attributes = self_attributes(class_nodes(wheel, found))
        problems += [f'its methods never set self.{name}'
                     for name in use.attributes if name not in attributes]
    strings = {child.value for node in class_nodes(wheel, found) for child in ast.walk(node)
               if isinstance(child, ast.Constant) and isinstance(child.value, str)}
    problems += [f'its source has no string key {key!r}' for key in use.string_keys if key not in strings]
    branches = ((use.raises_if, ast.Raise, 'raises'), (use.continues_if, ast.Continue, 'continues'))
    for text, branch, what in branches:
        tests = if_tests(found.node, branch)
        if text and text not in tests:
            problems.append(f'has no `if {text}:` branch that {what} '
                            f'(tests of branches that {what}: {tests})')
    if use.returns:
        problems.append('returns is checked for operators only (defined_in a YAML file)')
    return problems


# -- operators --------------------------------------------------------------------------------------

@functools.cache
def operator_entries(wheel: Wheel) -> Dict[str, List[dict]]:
    """Each YAML file of the wheel -> its operator entries (mappings with a ``func`` schema)."""
    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    found = {}
    for member in wheel.members('.yaml'):
        entries, stack = [], [yaml.load(wheel.text(member), Loader=loader)]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get('func'), str):
                    entries.append(item)
                stack += item.values()
            elif isinstance(item, list):
                stack += item
        found[member] = entries
    return found


def split_top_level(text: str) -> List[str]:
    """``text`` split at the commas outside brackets."""
    parts, depth, current = [], 0, ''
    for char in text:
        depth += char in '(['
        depth -= char in ')]'
        if char == ',' and depth == 0:
            parts.append(current.strip())
            current = ''
        else:
            current += char
    return [part for part in [*parts, current.strip()] if part]


Parameter = Tuple[str, Optional[str], bool]  # name, default text or None, keyword-only
Output = Tuple[str, Optional[str]]  # type, name or None


def parse_schema(schema: str) -> Tuple[str, List[Parameter], List[Output]]:
    """A native function schema ``name(Type arg=default, *, ...) -> (Type name, ...)``: its name, its
    parameters (name, default text or None, keyword-only) and its returns (type, name or None)."""
    match = re.fullmatch(r'([\w.]+)\((.*)\)\s*->\s*(.+)', schema.strip())
    assert match, f'unreadable schema {schema!r}'
    name, arguments, returns = match.groups()
    parameters, keyword_only = [], False
    for argument in split_top_level(arguments):
        if argument == '*':
            keyword_only = True
            continue
        declaration, _, default = argument.partition('=')
        parameters.append((declaration.split()[-1], default or None, keyword_only))
    returns = returns.strip()
    if returns.startswith('(') and returns.endswith(')'):
        returns = returns[1:-1]
    outputs = []
    for output in split_top_level(returns):
        words = output.split()
        outputs.append((words[0], words[1] if len(words) > 1 else None))
    return name, parameters, outputs


def schema_default(text: str) -> object:
    if text in YAML_SCALARS:
        return YAML_SCALARS[text]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def documented_outputs(wheel: Wheel, operator: str, parameters: List[str]) -> Optional[List[str]]:
    """The outputs that the wheel's operator documentation (``_add_torch_npu_docstr``) describes:
    its ``name (Type) - ...`` lines that are not parameters, in order; None where it has none."""
    if OPERATOR_DOCS not in wheel.members('.py'):
        return None
    for node in ast.walk(wheel.tree(OPERATOR_DOCS)):
        if (isinstance(node, ast.Call) and getattr(node.func, 'id', '') == '_add_torch_npu_docstr'
                and len(node.args) == 2 and getattr(node.args[0], 'value', None) == operator):
            names = re.findall(r'^(\w+) \(', node.args[1].value, flags=re.MULTILINE)
            return [name for name in names if name not in parameters]
    return None


def operator_problems(wheel: Wheel, use: Use) -> List[str]:
    operator = use.qualname
    if use.name != f'torch_npu.{operator}':
        return [f'an operator is reached as torch_npu.{operator}, not {use.name}']
    listing = {member: [e for e in entries if e['func'].split('(')[0] == operator]
               for member, entries in operator_entries(wheel).items()}
    listing = {member: entries for member, entries in listing.items() if entries}
    if list(listing) != [use.defined_in] or len(listing[use.defined_in]) != 1:
        return [f'its schema is registered in {sorted(listing) or "no YAML file"} '
                f'({sum(map(len, listing.values()))} entries), not once in {use.defined_in} as USES says']
    entry = listing[use.defined_in][0]
    problems = [] if entry.get('exposed') is True else [f'{use.defined_in} does not expose it (exposed)']
    _, parameters, outputs = parse_schema(entry['func'])
    positional = [name for name, _, keyword_only in parameters if not keyword_only]
    if tuple(positional[:len(use.positional)]) != use.positional:
        problems.append(f'positional parameters are {positional}, the product passes {list(use.positional)}')
    names = [name for name, _, _ in parameters]
    problems += [f'has no parameter {name} ({entry["func"]})' for name in use.keywords if name not in names]
    defaults = {name: default for name, default, _ in parameters}
    for name, expected in use.defaults.items():
        if defaults.get(name) is None or schema_default(defaults[name]) != expected:
            problems.append(f'{name} defaults to {defaults.get(name)}, not {expected!r} ({entry["func"]})')
    if use.returns:
        if len(outputs) != len(use.returns):
            problems.append(f'returns {len(outputs)} values ({entry["func"]}), not {len(use.returns)}')
        named = [name for _, name in outputs]
        if any(named) and tuple(named) != use.returns:
            problems.append(f'its schema names its returns {named}, not {list(use.returns)}')
        documented = documented_outputs(wheel, operator, names)
        if documented is not None and tuple(documented) != use.returns:
            problems.append(f'{OPERATOR_DOCS} documents the outputs {documented}, not {list(use.returns)}')
        if documented is None and not any(named):
            problems.append(f'neither its schema nor {OPERATOR_DOCS} names its outputs')
    if use.bases or use.attributes or use.string_keys or use.raises_if or use.continues_if:
        problems.append('an operator has no Python source: bases, attributes, string keys and branches '
                        'cannot be checked')
    return problems


def use_problems(wheel: Wheel, use: Use) -> List[str]:
    return operator_problems(wheel, use) if use.defined_in.endswith('.yaml') else python_problems(wheel, use)


@pytest.mark.parametrize('path, use', use_params())
def test_the_product_s_torch_npu_name_holds_in_the_wheel(path, use: Use):
    wheel = open_wheel(path)
    problems = use_problems(wheel, use)
    broken = use.broken_in.get(wheel.version)
    if broken:
        assert problems, (f'{use.name} in {wheel}: USES records it as broken in {wheel.version} ({broken}), '
                          'but every check passes: remove the stale broken_in entry')
    else:
        assert not problems, f'{use.name} in {wheel}: ' + '; '.join(problems) + f'. The product: {use.why}'


def test_every_use_is_listed_once_and_breaks_only_in_known_releases():
    names = [use.name for use in USES]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})
    unknown = {use.name: sorted(set(use.broken_in) - set(RELEASES))
               for use in USES if set(use.broken_in) - set(RELEASES)}
    assert not unknown, f'broken_in names torch-npu versions that RELEASES does not list: {unknown}'


@pytest.mark.parametrize('path', wheel_params())
@pytest.mark.parametrize('probe', PROBES, ids=[probe.name for probe in PROBES])
def test_a_name_the_product_probes_for_exists_exactly_where_recorded(path, probe: Probe):
    wheel = open_wheel(path)
    try:
        found = wheel.resolve(probe.name)
    except Unresolved:
        found = None
    present = isinstance(found, Definition)
    expected = wheel.version in probe.present_in
    assert present == expected, (
        f'{probe.name} in {wheel}: {"defined at " + str(found) if present else "absent"}, but PROBES says '
        f'it is {"present" if expected else "absent"} in {wheel.version}. The product: {probe.why}')


# -- names torch_npu makes importable under another name -------------------------------------------

def reached(wheel: Wheel, path: str, qualname: str, what: str) -> List[str]:
    chain = import_chain(wheel, path, qualname)
    assert chain is not None, (f'{wheel}: {what} is in {path}:{qualname or "<module>"}, '
                               'which import torch_npu never runs')
    return chain


@pytest.mark.parametrize('path', wheel_params())
def test_torch_npu_registers_its_npu_module_as_torch_npu(path):
    wheel = open_wheel(path)
    alias, real = 'torch.npu', ALIASES['torch.npu']
    device = alias.rpartition('.')[2]
    sites = []
    for source in files_naming(wheel, '_register_device_module'):
        for scope in scopes(wheel, source):
            for node in scope.nodes:
                if not (isinstance(node, ast.Call) and len(node.args) == 2):
                    continue
                function = resolved(wheel, scope, node.func)
                module = resolved(wheel, scope, node.args[1])
                if (isinstance(function, Outside) and function.dotted == 'torch._register_device_module'
                        and isinstance(node.args[0], ast.Constant) and node.args[0].value == device
                        and isinstance(module, Definition) and module.module == real and not module.qualname):
                    sites.append((scope, node))
    assert sites, f"{wheel}: no torch._register_device_module('{device}', {real}), which makes {alias} {real}"
    for scope, node in sites:
        reached(wheel, scope.path, scope.qualname, f'torch._register_device_module (line {node.lineno})')


@pytest.mark.parametrize('path', wheel_params())
def test_torch_npu_makes_its_bundled_torchair_importable_as_torchair(path):
    wheel = open_wheel(path)
    alias, real = 'torchair', ALIASES['torchair']
    assert wheel.module_path(real), f'{wheel} bundles no {real}'
    sites = []
    for source in wheel.python_files_containing('sys.modules'):
        if source not in files_naming(wheel, alias):
            continue
        for scope in scopes(wheel, source):
            for node in scope.nodes:
                if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and isinstance(node.targets[0], ast.Subscript)):
                    continue
                target = node.targets[0]
                owner = resolved(wheel, scope, target.value)
                if (isinstance(owner, Outside) and owner.dotted == 'sys.modules'
                        and isinstance(target.slice, ast.Constant) and target.slice.value == alias):
                    sites.append((scope, node))
    assert sites, f"{wheel}: no sys.modules['{alias}'] = ..., which makes {alias} importable"
    for scope, node in sites:
        value = node.value
        proxy = resolved(wheel, scope, value.func) if isinstance(value, ast.Call) else None
        assert isinstance(proxy, Definition) and isinstance(proxy.node, ast.ClassDef), (
            f"{wheel}: sys.modules['{alias}'] is set to {ast.unparse(value)} at {scope.path}:{node.lineno}, "
            'not to an instance of a torch_npu class')
        imported = set()
        classes = [proxy, *(b for b in ancestors(wheel, proxy) if isinstance(b, Definition))]
        for cls in classes:
            for method in scopes(wheel, cls.path):
                if method.qualname.startswith(f'{cls.qualname}.'):
                    imported |= {f'{wheel.absolute(cls.module, stmt)}.{a.name}' for stmt in method.local
                                 if isinstance(stmt, ast.ImportFrom) for a in stmt.names}
        assert real in imported, (f"{wheel}: sys.modules['{alias}'] is a {proxy}, which never imports {real} "
                                  f'(it imports {sorted(imported)})')
        reached(wheel, scope.path, scope.qualname, f"sys.modules['{alias}'] = {ast.unparse(value)}")


@pytest.mark.parametrize('path', wheel_params())
def test_torch_npu_replaces_torch_s_sharded_grad_scaler_on_import(path):
    wheel = open_wheel(path)
    use = next(use for use in USES if use.name == SHARDED_SCALER)
    replacements = wheel.replacements(SHARDED_SCALER)
    assert replacements, f'{wheel}: nothing assigns {SHARDED_SCALER}'
    for replacement in replacements:
        value = replacement.value
        where = (value.path, value.qualname) if isinstance(value, Definition) else None
        assert where == (use.defined_in, use.qualname), (
            f'{wheel}: {replacement.path}:{replacement.function} replaces {SHARDED_SCALER} with {value}, '
            f'not {use.defined_in}:{use.qualname}')
        reached(wheel, replacement.path, replacement.function, f'the replacement of {SHARDED_SCALER}')
