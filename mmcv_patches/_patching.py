"""The one mechanism every patch uses: swap a module-level name, remembering the original.

mmengine modules bind helpers by name (``from mmengine.utils import is_installed``), so
replacing the attribute in the defining module alone does not reach them: a patch
replaces the object in every loaded ``mmengine`` module that holds it. Modules imported
later read the already patched attribute of the defining module.
"""
import sys
from typing import Any, Dict

# 'module.attribute' of each patched name -> the object mmengine had there, so that tests can
# show what goes wrong without the patch.
ORIGINALS: Dict[str, Any] = {}


def replace_everywhere(module_name: str, attr: str, replacement: Any, prefix: str = 'mmengine') -> None:
    """Replace ``module_name.attr`` by ``replacement`` in every loaded module under ``prefix``.

    Idempotent: the original is recorded once in :data:`ORIGINALS`, and a second call
    finds nothing left to replace.
    """
    module = sys.modules[module_name]
    key = f'{module_name}.{attr}'
    original = ORIGINALS.setdefault(key, getattr(module, attr))
    for name, loaded in list(sys.modules.items()):
        if loaded is None or not (name == prefix or name.startswith(prefix + '.')):
            continue
        for holder_attr, value in list(vars(loaded).items()):
            if value is original:
                setattr(loaded, holder_attr, replacement)
