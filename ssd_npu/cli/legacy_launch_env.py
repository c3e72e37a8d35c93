"""The old product's launch variables (``RANK``, ``RANK_SIZE``, ``NPUID``) as torchrun's.

The old Ascend product started one process per device with these set and no launcher flag;
the command-line tools read them as torchrun's variables and launch as torchrun would.
"""
import os
from typing import MutableMapping, Optional


def map_legacy_dist_env(environ: Optional[MutableMapping[str, str]] = None) -> None:
    """Translate the old product's launch variables into torchrun's, in place.

    ``RANK_SIZE`` -> ``WORLD_SIZE`` and ``NPUID`` -> ``LOCAL_RANK`` where torchrun's are unset
    (``LOCAL_RANK`` falls back to ``RANK``: that launcher ran one node); ``MASTER_ADDR``
    defaults to 127.0.0.1 and ``MASTER_PORT`` to 29500 when a world size is known.
    Variables already set are kept.
    """
    env = os.environ if environ is None else environ
    if 'WORLD_SIZE' not in env and 'RANK_SIZE' in env:
        env['WORLD_SIZE'] = env['RANK_SIZE']
    if 'LOCAL_RANK' not in env:
        if 'NPUID' in env:
            env['LOCAL_RANK'] = env['NPUID']
        elif 'RANK' in env and 'WORLD_SIZE' in env:
            env['LOCAL_RANK'] = env['RANK']
    if 'WORLD_SIZE' in env:
        env.setdefault('MASTER_ADDR', '127.0.0.1')
        env.setdefault('MASTER_PORT', '29500')
