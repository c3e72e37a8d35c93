"""Every torch_npu name written in product code is listed in torch_npu_uses (USES, or PROBES for a name
read with a fallback), so test_torch_npu_names.py checks it in the released wheels.

Product code: the Python files of ssd_npu/, mmcv_patches/ and tools/, read with :mod:`ast`. A name is
``torch_npu.…``, ``torch.npu.…`` or ``torchair.…`` (ALIASES), spelled as attributes, imported
(``from torch_npu.x import y``, ``import torch_npu.x as t``), read with ``getattr``/``hasattr`` and a
literal name, or given whole as a string (``importlib.import_module('torch_npu.dynamo.torchair')``).
A name is listed when it, or a longer name it is the start of, is in the tables (a package such as
``torch_npu.npu.utils``). Names built at run time (``getattr(torch, device_type)``) cannot be seen,
nor attributes of instances (``scaler.scale``): USES lists those by hand.
"""
import ast
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from torch_npu_uses import PROBES, USES
from torch_npu_wheel import ALIASES, REPO, unalias

PRODUCT = ('ssd_npu', 'mmcv_patches', 'tools')
ROOTS = ('torch_npu', *ALIASES)  # the names torch_npu is reached by: torch_npu, torch.npu, torchair
WHOLE_NAME = re.compile(r'(torch_npu|torch\.npu|torchair)(\.[A-Za-z_]\w*)*')
PROBING = ('getattr', 'hasattr')


def product_files() -> List[Path]:
    return sorted(path for folder in PRODUCT for path in (REPO / folder).rglob('*.py'))


def canonical(name: str) -> str:
    return unalias(name)


def is_torch_npu(name: str) -> bool:
    real = canonical(name)
    return real == 'torch_npu' or real.startswith('torch_npu.')


def import_bindings(tree: ast.AST) -> Dict[str, str]:
    """Local name -> the dotted name it is bound to by the imports anywhere in ``tree`` (the ones
    that matter here: of torch, torch_npu, torchair); a variable named ``torch_npu`` (``sys.modules
    .get('torch_npu')``) or ``torchair`` stands for that module too."""
    bindings = {'torch': 'torch', 'torch_npu': 'torch_npu', 'torchair': 'torchair'}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bindings[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                bindings[alias.asname or alias.name] = f'{node.module}.{alias.name}'
    return bindings


def written_name(node: ast.AST, bindings: Dict[str, str]) -> Optional[str]:
    """The dotted name that ``node`` spells: a bound name, its attributes, ``getattr(x, 'name'[, d])``
    and ``hasattr(x, 'name')`` of such; None for anything else (a name computed at run time)."""
    if isinstance(node, ast.Name):
        return bindings.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = written_name(node.value, bindings)
        return f'{owner}.{node.attr}' if owner else None
    if is_probe(node) and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
        owner = written_name(node.args[0], bindings)
        return f'{owner}.{node.args[1].value}' if owner and isinstance(node.args[1].value, str) else None
    return None


def is_probe(node: ast.AST) -> bool:
    """Whether ``node`` is a call of ``getattr`` or ``hasattr``."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PROBING


def names_in(source: str, filename: str = '<source>') -> List[Tuple[int, str]]:
    """(line, name) for each torch_npu name written in ``source``: the longest spelling only (not
    ``torch_npu.npu`` again inside ``torch_npu.npu.utils``)."""
    tree = ast.parse(source, filename=filename)
    bindings = import_bindings(tree)
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner.add(node.value)
        elif is_probe(node) and node.args:
            inner.add(node.args[0])
    found = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and (node.level or not node.module):
                continue
            for alias in node.names:
                imported = alias.name if isinstance(node, ast.Import) else f'{node.module}.{alias.name}'
                if is_torch_npu(imported):
                    found.append((node.lineno, imported))
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value if WHOLE_NAME.fullmatch(node.value) else None
        elif isinstance(node, (ast.Attribute, ast.Call)) and node not in inner:
            name = written_name(node, bindings)
        if name and is_torch_npu(name):
            found.append((node.lineno, name))
    return sorted(found)


def listed(name: str) -> bool:
    real = canonical(name)
    table = {canonical(entry.name) for entry in (*USES, *PROBES)}
    return real == 'torch_npu' or real in table or any(entry.startswith(real + '.') for entry in table)


def test_every_torch_npu_name_in_product_code_is_listed_in_uses():
    unlisted = []
    for path in product_files():
        for line, name in names_in(path.read_text(encoding='utf-8'), str(path)):
            if not listed(name):
                unlisted.append(f'{path.relative_to(REPO)}:{line}: {name}')
    assert not unlisted, (
        'product code uses torch_npu names that tests/test_npu/torch_npu_uses.py does not list (add each '
        'to USES, with where the wheels define it and what the product relies on):\n' + '\n'.join(unlisted))


def test_the_scan_reads_product_code_that_uses_torch_npu():
    seen = {canonical(name) for path in product_files()
            for _, name in names_in(path.read_text(encoding='utf-8'))}
    # Spelled out in product code today: ssd_npu/utils/device.py, mmcv_patches/dist_utils.py,
    # ssd_npu/engine/optimizers/ (fused_sgd_builder.py, amp_optim_wrapper.py).
    for name in ('torch.npu.is_available', 'torch.npu.set_device', 'torch_npu.optim.NpuFusedSGD',
                 'torch.npu.amp.GradScaler'):
        assert canonical(name) in seen, f'the scan of {", ".join(PRODUCT)} no longer sees {name}'


def test_the_scan_sees_each_way_of_writing_a_name_and_not_names_built_at_run_time():
    source = '''
import importlib
import sys

import torch
import torch_npu.npu.utils as npu_utils
from torch_npu.optim import NpuFusedSGD


def f(device_type, scaler):
    import torch_npu
    torch_npu.npu.utils.get_npu_overflow_flag()
    torch.npu.amp.GradScaler(init_scale=2.0)
    npu_utils.is_support_inf_nan()
    getattr(getattr(torch, 'npu', None), 'native_device', None)
    npu = sys.modules.get('torch_npu')
    hasattr(npu, 'npu_batch_nms'), hasattr(torch_npu, 'npu_batch_nms')
    torchair = importlib.import_module('torch_npu.dynamo.torchair')
    torchair.get_npu_backend(compiler_config=torchair.CompilerConfig())
    getattr(torch, device_type).synchronize()
    scaler.scale(1.0)
    torch.cuda.synchronize()
    return 'torch_npu is an Ascend extension'
'''
    assert names_in(source) == [
        (6, 'torch_npu.npu.utils'),
        (7, 'torch_npu.optim.NpuFusedSGD'),
        (11, 'torch_npu'),
        (12, 'torch_npu.npu.utils.get_npu_overflow_flag'),
        (13, 'torch.npu.amp.GradScaler'),
        (14, 'torch_npu.npu.utils.is_support_inf_nan'),
        (15, 'torch.npu.native_device'),
        (16, 'torch_npu'),  # the string; ``npu`` itself is a value at run time
        (17, 'torch_npu.npu_batch_nms'),
        (18, 'torch_npu.dynamo.torchair'),
        (19, 'torchair.CompilerConfig'),
        (19, 'torchair.get_npu_backend'),
    ]  # and nothing of lines 20-23
    assert listed('torch.npu.amp.GradScaler') and listed('torch_npu.npu.utils')
    assert listed('torchair.CompilerConfig')
    assert not listed('torch.npu.amp.GradScaler.scale_twice') and not listed('torch_npu.npu.nothing')
