"""The releases the patches were tested on, and one warning when the installed ones lie outside.

The patches replace functions of mmengine (some private) and rely on a few torch details; a
release outside these ranges may have moved them. ``tests/test_mmcv_patches/test_private_symbols.py``
fails, naming the symbol, when one of them is gone or changed; this warning tells users of an
untested release where to look when something breaks. The lower bounds are those of
``requirements/runtime.txt``; the README's "Upgrading" section runs the tests with them.
"""
import importlib.metadata
import re
import warnings
from typing import Dict, List, Optional, Tuple

# distribution -> (lowest, highest) release tested, inclusive; compared on (major, minor, patch).
TESTED_RANGES: Dict[str, Tuple[str, str]] = {
    'mmengine': ('0.10.4', '0.10.7'),
    'mmcv-lite': ('2.1.0', '2.2.0'),
    # 2.6: torch.serialization.safe_globals with (object, name) pairs, as the safe loader uses them.
    'torch': ('2.6.0', '2.14.1'),
}
_warned = False


def release(version: str) -> Tuple[int, ...]:
    """``'2.14.1+cu130'`` -> ``(2, 14, 1)``: the numeric release; local and pre-release tags dropped."""
    match = re.match(r'(\d+)(?:\.(\d+))?(?:\.(\d+))?', version)
    if match is None:
        raise ValueError(f'not a release number: {version!r}')
    return tuple(int(number) for number in match.groups(default='0'))


def _installed(distribution: str) -> Optional[str]:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def untested_versions() -> List[str]:
    """``'name version (tested: low..high)'`` for every installed distribution outside its range."""
    outside = []
    for distribution, (low, high) in TESTED_RANGES.items():
        version = _installed(distribution)
        if version is not None and not release(low) <= release(version) <= release(high):
            outside.append(f'{distribution} {version} (tested: {low} .. {high})')
    return outside


def warn_if_untested() -> None:
    """Warn once per process when mmengine, mmcv-lite or torch is outside the tested range."""
    global _warned
    if _warned:
        return
    _warned = True
    outside = untested_versions()
    if outside:
        warnings.warn(f'mmcv_patches was tested on other releases than {", ".join(outside)}; its patches '
                      'replace mmengine internals that may have changed. Run tests/test_mmcv_patches '
                      '(test_private_symbols.py names what moved) or install a tested release.', stacklevel=3)
