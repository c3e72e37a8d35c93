"""A released torch-npu wheel, read as a zip file: its metadata, entry points and Python sources.

Why: torch_npu only imports on an Ascend host with CANN, and installing it replaces parts of torch,
so the names the product takes from it are checked in the wheels themselves. Nothing here imports or
installs them; names are followed through the wheel's own imports with :mod:`ast`.
"""
import ast
import configparser
import functools
import os
import warnings
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Union

REPO = Path(__file__).resolve().parents[2]
WHEEL_DIR_VARIABLE = 'SSD_NPU_TORCH_NPU_WHEELS'
DEFAULT_WHEEL_DIR = '.ci/wheels'

# Names torch_npu makes importable under another name, and the name they stand for (the tests of
# test_torch_npu_names.py assert how each wheel does it).
ALIASES = {
    'torch.npu': 'torch_npu.npu',  # torch._register_device_module('npu', torch_npu.npu)
    'torchair': 'torch_npu.dynamo.torchair',  # sys.modules['torchair'], a proxy loading the bundled one
}


def wheel_dir() -> Path:
    """``$SSD_NPU_TORCH_NPU_WHEELS``, else ``.ci/wheels``; a relative path is taken from the repo root."""
    return REPO / os.environ.get(WHEEL_DIR_VARIABLE, DEFAULT_WHEEL_DIR)


def wheel_paths() -> List[Path]:
    """Every torch-npu wheel in :func:`wheel_dir`, sorted by file name."""
    return sorted(wheel_dir().glob('torch_npu-*.whl'))


def download_command(version: str = '2.14.0') -> str:
    """The command that puts the torch-npu ``version`` wheel where these tests look for it."""
    folder = wheel_dir()
    shown = folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder
    return f'python -m pip download -q --no-deps torch-npu=={version} -d {shown}'


def version_in_name(path: Path) -> str:
    """The version that a wheel's file name gives (``torch_npu-2.6.0.post5-cp311-...whl``)."""
    return path.name.split('-')[1]


def missing_wheel_message(versions: Sequence[str] = ('2.14.0',)) -> str:
    """Why a test fails where :func:`wheel_dir` holds no torch-npu wheel, and the fix (the download
    of each of ``versions``)."""
    commands = '; '.join(download_command(version) for version in versions)
    return f'no torch-npu wheel in {wheel_dir()}; download them first: {commands}'


def wheel_params() -> list:
    """One pytest parameter per wheel in :func:`wheel_dir`, by version; a single ``None`` where there is
    none, so that the tests taking it fail (never an empty, skipped set)."""
    import pytest

    params = [pytest.param(path, id=version_in_name(path)) for path in wheel_paths()]
    return params or [pytest.param(None, id='no-wheel')]


def unalias(dotted: str) -> str:
    """``dotted`` with a leading :data:`ALIASES` name replaced by the module it stands for."""
    for alias, real in ALIASES.items():
        if dotted == alias or dotted.startswith(alias + '.'):
            return real + dotted[len(alias):]
    return dotted


def dotted_name(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return '.'.join([node.id, *reversed(parts)])


def top_level(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when a module or class body runs, including those under if/try/with."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If):
            yield from top_level(stmt.body)
            yield from top_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody, *(h.body for h in stmt.handlers)):
                yield from top_level(block)
        elif isinstance(stmt, ast.With):
            yield from top_level(stmt.body)


@dataclass(frozen=True, eq=False)
class Definition:
    """Where a name is defined in the wheel: a module (``qualname`` empty), a class, a function or an
    assignment inside ``path``."""

    module: str
    path: str
    qualname: str
    node: ast.AST

    def __str__(self) -> str:
        return f'{self.path}:{self.qualname}' if self.qualname else self.path


@dataclass(frozen=True)
class Outside:
    """A name the wheel takes from elsewhere (torch, the standard library, a compiled extension)."""

    dotted: str

    def __str__(self) -> str:
        return f'{self.dotted} (outside torch_npu)'


Found = Union[Definition, Outside]


class Unresolved(LookupError):
    """A name that the wheel's sources do not define."""


@dataclass(frozen=True)
class Replacement:
    """An assignment by which the wheel replaces a name outside torch_npu with one of its own."""

    path: str
    function: str  # the function doing it, '' at module level
    called: bool  # whether that function is called in the same module
    value: Found


def imports_in(node: ast.AST) -> List[ast.stmt]:
    """The import statements anywhere inside ``node`` (a function's own imports)."""
    return [child for child in ast.walk(node) if isinstance(child, (ast.Import, ast.ImportFrom))]


class Wheel:
    """One torch-npu wheel file, read lazily; parsed sources are kept for the wheel's lifetime."""

    def __init__(self, path: Path):
        self.path = path
        self._zip = zipfile.ZipFile(path)
        self._names = set(self._zip.namelist())
        self._trees: Dict[str, ast.Module] = {}
        self._sources: Dict[str, bytes] = {}
        tops = {name.split('/')[0] for name in self._names}
        dist_info = next(top for top in sorted(tops) if top.endswith('.dist-info'))
        self.dist_info = dist_info
        self.metadata: Message = HeaderParser().parsestr(self.text(f'{dist_info}/METADATA'))
        self.version: str = self.metadata['Version']

    def __str__(self) -> str:
        return self.path.name

    def text(self, member: str) -> str:
        """The text of the file ``member`` of the wheel."""
        return self.source(member).decode('utf-8')

    def source(self, member: str) -> bytes:
        """The bytes of the file ``member`` of the wheel, read once."""
        if member not in self._sources:
            self._sources[member] = self._zip.read(member)
        return self._sources[member]

    def members(self, suffix: str = '') -> List[str]:
        """The files of the wheel whose names end with ``suffix``, sorted."""
        return sorted(name for name in self._names if name.endswith(suffix))

    def entry_points(self) -> configparser.ConfigParser:
        """The wheel's ``entry_points.txt`` (an empty parser where it has none)."""
        parser = configparser.ConfigParser(delimiters=('=',), interpolation=None)
        parser.optionxform = str  # entry point names are case-sensitive
        member = f'{self.dist_info}/entry_points.txt'
        if member in self._names:
            parser.read_string(self.text(member))
        return parser

    def module_path(self, module: str) -> Optional[str]:
        """The source file of the Python module ``module`` in the wheel, or None."""
        stem = module.replace('.', '/')
        for path in (f'{stem}.py', f'{stem}/__init__.py'):
            if path in self._names:
                return path
        return None

    def tree(self, path: str) -> ast.Module:
        """The parsed source file ``path``."""
        if path not in self._trees:
            with warnings.catch_warnings():  # the wheel's own invalid escape sequences
                warnings.simplefilter('ignore', (SyntaxWarning, DeprecationWarning))
                self._trees[path] = ast.parse(self.source(path), filename=f'{self.path.name}/{path}')
        return self._trees[path]

    def python_files_containing(self, text: str) -> List[str]:
        """The Python source files of the wheel whose text contains ``text``."""
        needle = text.encode()
        return [name for name in self.members('.py') if needle in self.source(name)]

    def module_definition(self, module: str) -> Definition:
        path = self.module_path(module)
        assert path is not None, module
        return Definition(module, path, '', self.tree(path))

    # -- following names --------------------------------------------------------------------------

    def resolve(self, dotted: str) -> Found:
        """The definition that ``dotted`` (``torch_npu.x.y``, or an :data:`ALIASES` name) names.

        Raises:
            Unresolved: the wheel binds no such name.
        """
        parts = unalias(dotted).split('.')
        for end in range(len(parts), 0, -1):
            module = '.'.join(parts[:end])
            if self.module_path(module):
                break
        else:
            return Outside('.'.join(parts))
        found: Found = self.module_definition(module)
        for attr in parts[end:]:
            found = self.member(found, attr)
        return found

    def member(self, owner: Found, attr: str) -> Found:
        """``owner.attr``: a submodule or a module-level name, or a class attribute (inherited too)."""
        if isinstance(owner, Outside):
            return Outside(f'{owner.dotted}.{attr}')
        if isinstance(owner.node, ast.Module):
            submodule = f'{owner.module}.{attr}'
            if self.module_path(submodule):
                return self.module_definition(submodule)
            found = self.lookup(owner.module, attr)
            if found is None:
                raise Unresolved(f'{owner.path} defines or imports no {attr}')
            return found
        if isinstance(owner.node, ast.ClassDef):
            return self._class_member(owner, attr)
        raise Unresolved(f'{owner} is not a module or a class, so it has no {attr}')

    def _class_member(self, cls: Definition, attr: str) -> Found:
        for stmt in top_level(cls.node.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and stmt.name == attr:
                return Definition(cls.module, cls.path, f'{cls.qualname}.{attr}', stmt)
            if isinstance(stmt, ast.Assign) and any(dotted_name(t) == attr for t in stmt.targets):
                return Definition(cls.module, cls.path, f'{cls.qualname}.{attr}', stmt)
        outside_bases = []
        for base in self.bases(cls):
            if isinstance(base, Outside):
                outside_bases.append(base)
                continue
            try:
                return self._class_member(base, attr)
            except Unresolved:
                continue
        if outside_bases:
            return Outside(f'{outside_bases[0].dotted}.{attr}')
        raise Unresolved(f'{cls} and its bases in the wheel define no {attr}')

    def bases(self, cls: Definition) -> List[Found]:
        """The base classes of the class ``cls``, followed through its module's imports."""
        found = []
        for base in cls.node.bases:
            value = self.expression(cls.module, base)
            if value is not None:
                found.append(value)
        return found

    def expression(self, module: str, node: ast.AST, local: Sequence[ast.stmt] = ()) -> Optional[Found]:
        """What the name chain ``node`` names inside ``module`` (``local``: a function's own imports),
        None when ``node`` is not a name chain."""
        dotted = dotted_name(node)
        if dotted is None:
            return None
        root, *attrs = dotted.split('.')
        found = self.lookup(module, root, local)
        if found is None:  # a builtin, or a parameter of the function
            found = Outside(root)
        for attr in attrs:
            found = self.member(found, attr)
        return found

    def lookup(self, module: str, name: str, local: Sequence[ast.stmt] = ()) -> Optional[Found]:
        """What ``name`` is bound to at the top level of ``module`` (the last binding wins; a
        function's own imports in ``local`` come first), None when nothing binds it."""
        for stmt in reversed(local):
            found = self._import_binding(module, stmt, name)
            if found is not None:
                return found
        path = self.module_path(module)
        assert path is not None, module
        bound: Optional[ast.stmt] = None
        star_sources = []
        for stmt in top_level(self.tree(path).body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and stmt.name == name:
                bound = stmt
            elif isinstance(stmt, ast.Assign) and any(dotted_name(t) == name for t in stmt.targets):
                bound = stmt
            elif isinstance(stmt, ast.AnnAssign) and dotted_name(stmt.target) == name and stmt.value:
                bound = stmt
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                if any((alias.asname or alias.name).split('.')[0] == name for alias in stmt.names):
                    bound = stmt
                if isinstance(stmt, ast.ImportFrom) and stmt.names[0].name == '*':
                    star_sources.append(self.absolute(module, stmt))
        if isinstance(bound, (ast.Import, ast.ImportFrom)):
            return self._import_binding(module, bound, name)
        if isinstance(bound, (ast.Assign, ast.AnnAssign)):
            return self.expression(module, bound.value) or Definition(module, path, name, bound)
        if bound is not None:
            return Definition(module, path, name, bound)
        for source in star_sources:
            if self.module_path(source) and name in self.exported(source):
                return self.resolve(f'{source}.{name}')
        return None

    def _import_binding(self, module: str, stmt: ast.stmt, name: str) -> Optional[Found]:
        """What the import statement ``stmt`` in ``module`` binds ``name`` to, None if not ``name``."""
        for alias in stmt.names:
            if isinstance(stmt, ast.ImportFrom) and (alias.asname or alias.name) == name:
                return self.resolve(f'{self.absolute(module, stmt)}.{alias.name}')
            if isinstance(stmt, ast.Import) and alias.asname == name:
                return self.resolve(alias.name)
            if isinstance(stmt, ast.Import) and alias.asname is None and alias.name.split('.')[0] == name:
                return self.resolve(name)
        return None

    def absolute(self, module: str, stmt: ast.ImportFrom) -> str:
        """The absolute module name that ``from ... import`` in ``module`` imports from."""
        if not stmt.level:
            return stmt.module or ''
        path = self.module_path(module) or ''
        package = module if path.endswith('/__init__.py') else module.rpartition('.')[0]
        for _ in range(stmt.level - 1):
            package = package.rpartition('.')[0]
        return f'{package}.{stmt.module}' if stmt.module else package

    def exported(self, module: str) -> List[str]:
        """The names ``from module import *`` binds: its literal ``__all__``, else its public names."""
        tree = self.module_definition(module).node
        names = []
        for stmt in top_level(tree.body):
            if isinstance(stmt, ast.Assign) and any(dotted_name(t) == '__all__' for t in stmt.targets):
                return list(ast.literal_eval(stmt.value))
            if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
                names.append(stmt.name)
            elif isinstance(stmt, ast.Assign):
                names += [t.id for t in stmt.targets if isinstance(t, ast.Name)]
        return [name for name in names if not name.startswith('_')]

    def replacements(self, dotted: str) -> List[Replacement]:
        """Every assignment in the wheel that replaces ``dotted``, a name outside torch_npu, such as
        ``torch.distributed.fsdp.sharded_grad_scaler.ShardedGradScaler = _ShardedGradScaler``."""
        parent, _, attr = dotted.rpartition('.')
        found = []
        for path in self.python_files_containing(attr):
            module = path[:-len('.py')].replace('/', '.').removesuffix('.__init__')
            tree = self.tree(path)
            called = {dotted_name(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
            functions = [(node, node.name) for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
            scopes = [(tree, ''), *functions]
            for scope, function in scopes:
                local = imports_in(scope) if function else []
                statements = scope.body if function else list(top_level(scope.body))
                for stmt in statements:
                    if not isinstance(stmt, ast.Assign):
                        continue
                    for target in stmt.targets:
                        if not (isinstance(target, ast.Attribute) and target.attr == attr):
                            continue
                        owner = self.expression(module, target.value, local)
                        if isinstance(owner, Outside) and owner.dotted == parent:
                            value = self.expression(module, stmt.value, local) or Outside('?')
                            reached = not function or function in called
                            found.append(Replacement(path, function, reached, value))
        return found


@functools.cache
def load(path: Path) -> Wheel:
    """The :class:`Wheel` at ``path``, opened once per test process (its parsed sources are kept)."""
    return Wheel(path)
