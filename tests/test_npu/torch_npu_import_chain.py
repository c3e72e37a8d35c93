"""Whether code in a torch-npu wheel runs when ``import torch_npu`` runs, read with :mod:`ast`.

A statement the product relies on (``torch._register_device_module('npu', torch_npu.npu)``, the
replacement of torch's ``ShardedGradScaler``) counts only if ``import torch_npu`` reaches it:
:func:`import_chain` walks back from the function holding it through the calls, imports and
registrations that lead to it, up to the module level of ``torch_npu/__init__.py``.

Followed: calls that resolve (through the caller's imports, :meth:`Wheel.expression`) to the
function; imports of a module (a package's ``pkgutil.iter_modules(package.__path__)`` loop counts
as importing each of its modules); a decorator call defined in the wheel (a registry such as
``@PatchManager.register_patch('dynamo')``) registers the function when its module is imported.
Not followed: calls through ``self``, callbacks passed as values.
"""
import ast
import functools
import re
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

from torch_npu_wheel import Definition, Found, Outside, Unresolved, Wheel, imports_in, top_level

ROOT = 'torch_npu/__init__.py'
MAX_VISITED = 400


@dataclass(frozen=True, eq=False)
class Scope:
    """Code that runs as one unit: a module's top level (``qualname`` ''), a function or a method."""

    path: str
    qualname: str
    node: ast.AST
    local: Tuple[ast.stmt, ...]  # the function's own imports
    nodes: Tuple[ast.AST, ...]  # every node that runs when it runs

    @property
    def module(self) -> str:
        return module_name(self.path)

    def __str__(self) -> str:
        return f'{self.path}:{self.qualname or "<module>"}'


def module_name(path: str) -> str:
    """The module that the source file ``path`` of the wheel is."""
    return path[:-len('.py')].replace('/', '.').removesuffix('.__init__')


def executed(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes under ``node`` that run when it runs: not the bodies of the functions (nor lambdas)
    it defines, but their decorators and defaults."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack += current.decorator_list
            stack += current.args.defaults
            stack += [default for default in current.args.kw_defaults if default is not None]
        elif not isinstance(current, ast.Lambda):
            stack += ast.iter_child_nodes(current)


@functools.cache
def scopes(wheel: Wheel, path: str) -> Tuple[Scope, ...]:
    """The module level of ``path``, its functions and its classes' methods (nested functions belong
    to the function that defines them)."""
    tree = wheel.tree(path)
    found = [Scope(path, '', tree, (), tuple(executed(tree)))]
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    for stmt in top_level(tree.body):
        members = [(stmt.name, stmt)] if isinstance(stmt, functions) else []
        if isinstance(stmt, ast.ClassDef):
            members = [(f'{stmt.name}.{item.name}', item) for item in top_level(stmt.body)
                       if isinstance(item, functions)]
        for qualname, node in members:
            found.append(Scope(path, qualname, node, tuple(imports_in(node)), tuple(ast.walk(node))))
    return tuple(found)


def scope_of(wheel: Wheel, path: str, qualname: str) -> Scope:
    """The scope ``qualname`` ('' for the module level) of ``path``."""
    for scope in scopes(wheel, path):
        if scope.qualname == qualname:
            return scope
    raise LookupError(f'{path} has no function {qualname}')


def resolved(wheel: Wheel, scope: Scope, node: ast.AST) -> Optional[Found]:
    """What the name chain ``node`` names inside ``scope``, None where the wheel cannot tell."""
    try:
        return wheel.expression(scope.module, node, scope.local)
    except (Unresolved, AssertionError):
        return None


def modules_imported(wheel: Wheel, scope: Scope, stmt: ast.stmt) -> List[str]:
    """The modules that the import statement ``stmt`` runs (parent packages included)."""
    if isinstance(stmt, ast.Import):
        names = [alias.name for alias in stmt.names]
    else:
        base = wheel.absolute(scope.module, stmt)
        names = [base] + [f'{base}.{alias.name}' for alias in stmt.names
                          if wheel.module_path(f'{base}.{alias.name}')]
    found = []
    for name in names:
        parts = name.split('.')
        found += ['.'.join(parts[:end]) for end in range(1, len(parts) + 1)]
    return found


def packages_discovered(wheel: Wheel, scope: Scope) -> List[str]:
    """The packages whose modules ``scope`` imports by ``pkgutil.iter_modules(package.__path__)``."""
    found = []
    for node in scope.nodes:
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Attribute)
                and node.args[0].attr == '__path__'):
            continue
        function = resolved(wheel, scope, node.func)
        package = resolved(wheel, scope, node.args[0].value)
        if (isinstance(function, Outside) and function.dotted == 'pkgutil.iter_modules'
                and isinstance(package, Definition) and not package.qualname):
            found.append(package.module)
    return found


def files_naming(wheel: Wheel, name: str) -> List[str]:
    """The Python files of the wheel whose text has ``name`` as a whole word."""
    word = re.compile(rb'\b%s\b' % re.escape(name.encode()))
    return [path for path in wheel.python_files_containing(name) if word.search(wheel.source(path))]


def same(found: Optional[Found], path: str, qualname: str) -> bool:
    return isinstance(found, Definition) and (found.path, found.qualname) == (path, qualname)


def predecessors(wheel: Wheel, target: Scope) -> Iterator[Tuple[Scope, str]]:
    """The scopes whose running runs ``target``, each with how (a call, an import, a registration)."""
    if not target.qualname:
        module = target.module
        parent = module.rpartition('.')[0]
        leaf = module.rpartition('.')[2]
        for path in sorted({*files_naming(wheel, leaf), *files_naming(wheel, 'iter_modules')}):
            for scope in scopes(wheel, path):
                if scope.path == target.path and not scope.qualname:
                    continue
                if any(isinstance(node, (ast.Import, ast.ImportFrom))
                       and module in modules_imported(wheel, scope, node) for node in scope.nodes):
                    yield scope, f'imports {module}'
                elif parent in packages_discovered(wheel, scope):
                    yield scope, f'imports every module of {parent} (pkgutil.iter_modules)'
        return
    for decorator in target.node.decorator_list:
        registry = resolved(wheel, target, decorator.func) if isinstance(decorator, ast.Call) else None
        if isinstance(registry, Definition):
            module_level = scope_of(wheel, target.path, '')
            yield module_level, f'registers {target.qualname} with @{ast.unparse(decorator)}'
    name = target.qualname.rpartition('.')[2]
    for path in files_naming(wheel, name):
        for scope in scopes(wheel, path):
            for node in scope.nodes:
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                spelled = func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None)
                if spelled == name and same(resolved(wheel, scope, func), target.path, target.qualname):
                    yield scope, f'calls {target.qualname} (line {node.lineno})'
                    break


def import_chain(wheel: Wheel, path: str, qualname: str) -> Optional[List[str]]:
    """How ``import torch_npu`` reaches the scope ``qualname`` of ``path`` (shortest first: one line
    per step, from ``torch_npu/__init__.py`` on), or None where it does not."""
    start = scope_of(wheel, path, qualname)
    came_from = {start: None}
    queue = [start]
    while queue and len(came_from) < MAX_VISITED:
        scope = queue.pop(0)
        if (scope.path, scope.qualname) == (ROOT, ''):
            steps = []
            while came_from[scope] is not None:
                successor, how = came_from[scope]
                steps.append(f'{scope} {how}')
                scope = successor
            return steps
        for predecessor, how in predecessors(wheel, scope):
            if predecessor not in came_from:
                came_from[predecessor] = (scope, how)
                queue.append(predecessor)
    return None
