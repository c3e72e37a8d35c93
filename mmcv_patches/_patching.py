"""The one mechanism every patch uses: replace an attribute, remember the original, undo on demand.

Three forms, one record:

* :func:`replace_attribute` -- a class attribute (a method of an mmengine class);
* :func:`replace_item` -- an entry of a table mmengine looks things up in (a dict);
* :func:`replace_everywhere` -- a module-level function. mmengine modules bind helpers by name
  (``from mmengine.utils import is_installed``), so replacing the attribute of the defining module
  alone does not reach them: the object is replaced in every loaded ``mmengine``/``mmcv`` module
  that holds it. Modules imported later copy the (already replaced) attribute of the defining
  module, so they get the patched object too.

Every replacement is recorded under its key (``'module.attribute'`` or ``'module.Class.attribute'``):
:data:`ORIGINALS` holds what mmengine had there, :func:`undo` puts it back in every place it was
replaced, so that tests can show what goes wrong without a patch.
"""
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

# key -> the object mmengine had there.
ORIGINALS: Dict[str, Any] = {}
_PREFIXES = ('mmengine', 'mmcv')


@dataclass
class _Replacement:
    original: Any
    replacement: Any
    # (holder, attribute name or key, whether it is a dict entry) of every place it was replaced.
    holders: List[Tuple[Any, Any, bool]] = field(default_factory=list)


_APPLIED: Dict[str, _Replacement] = {}


def _record(key: str, original: Any, replacement: Any) -> Optional[_Replacement]:
    """The new record for ``key``, or None when it is already patched (idempotent)."""
    if key in _APPLIED:
        return None
    ORIGINALS.setdefault(key, original)
    record = _Replacement(ORIGINALS[key], replacement)
    _APPLIED[key] = record
    return record


def key_of(owner: Any, attr: str) -> str:
    """The key of ``owner.attr`` in :data:`ORIGINALS`: ``'module.attr'`` or ``'module.Class.attr'``."""
    if isinstance(owner, type):
        return f'{owner.__module__}.{owner.__qualname__}.{attr}'
    return f'{owner.__name__}.{attr}'


def replace_attribute(owner: Any, attr: str, replacement: Any) -> None:
    """Replace ``owner.attr`` (a class or module attribute), recording the original. Idempotent."""
    record = _record(key_of(owner, attr), vars(owner)[attr], replacement)
    if record is not None:
        setattr(owner, attr, replacement)
        record.holders.append((owner, attr, False))


def replace_item(table: dict, item: Any, replacement: Any, key: str) -> None:
    """Replace ``table[item]`` (which must exist), recording the original under ``key``. Idempotent."""
    record = _record(key, table[item], replacement)
    if record is not None:
        table[item] = replacement
        record.holders.append((table, item, True))


def replace_everywhere(module_name: str, attr: str, replacement: Any) -> None:
    """Replace ``module_name.attr`` by ``replacement`` in every loaded mmengine/mmcv module. Idempotent."""
    module = sys.modules[module_name]
    record = _record(f'{module_name}.{attr}', getattr(module, attr), replacement)
    if record is None:
        return
    for name, loaded in list(sys.modules.items()):
        if loaded is None or name.split('.')[0] not in _PREFIXES:
            continue
        for holder_attr, value in list(vars(loaded).items()):
            if value is record.original:
                setattr(loaded, holder_attr, replacement)
                record.holders.append((loaded, holder_attr, False))


def is_patched(key: str) -> bool:
    """Whether the patch recorded under ``key`` is in place."""
    return key in _APPLIED


def undo(*keys: str) -> None:
    """Put back mmengine's originals of ``keys`` (every patch when none is given).

    Raises:
        KeyError: a key that is not patched.
    """
    for key in keys or list(_APPLIED):
        record = _APPLIED.pop(key)
        for holder, name, is_item in record.holders:
            if is_item and holder.get(name) is record.replacement:
                holder[name] = record.original
            elif not is_item and getattr(holder, name, None) is record.replacement:
                setattr(holder, name, record.original)
