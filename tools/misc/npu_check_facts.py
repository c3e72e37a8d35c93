"""The torch side of ``tools/npu_check.sh``'s machine facts, printed as one JSON object.

    python tools/misc/npu_check_facts.py [--device npu|cuda|cpu]

What a bug report about an accelerator needs first: torch and torch-npu versions, the device
chosen, how many there are, the chip's name and, on Ascend, its SoC version (below 220 an Atlas
training-series 910A: every run is an AMP run there, and fp16 saturates instead of overflowing).
It runs in its own process, started by ``tools/misc/npu_check.py``, because ``import torch``
imports torch_npu (its autoload entry point) and can fail or crash on a host where CANN is
broken; the caller then still reports everything it read without torch. A failed import is
reported as ``torch_error`` (exit status 0: the failure is a fact, not a crash of this script).
"""
import argparse
import json
import os
import platform
from importlib import metadata
from typing import Any, Dict, Optional


def distribution_version(*names: str) -> Optional[str]:
    """The installed version of the first of ``names`` (pip's spellings of one distribution), or None."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith(('model name', 'cpu model')):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _npu_facts(torch: Any) -> Dict[str, Any]:
    """Count, chip name, SoC version and precision support of the Ascend NPUs."""
    import torch_npu

    facts: Dict[str, Any] = {'device_count': torch.npu.device_count()}
    if facts['device_count']:
        facts['chip'] = torch.npu.get_device_name(0)
        facts['soc_version'] = int(torch_npu.npu.utils.get_soc_version())
        # Below 220: Ascend 910A / ProA / PremiumA (mmengine makes every optimizer an AmpOptimWrapper there).
        facts['soc_generation'] = '910A family (SoC < 220)' if facts['soc_version'] < 220 else '910B or later'
        facts['bf16_supported'] = bool(torch.npu.is_bf16_supported())
        is_support_inf_nan = getattr(torch_npu.npu.utils, 'is_support_inf_nan', None)
        if is_support_inf_nan is not None:
            facts['inf_nan_mode'] = bool(is_support_inf_nan())
    return facts


def _cuda_facts(torch: Any) -> Dict[str, Any]:
    """Count and name of the NVIDIA GPUs, and torch's CUDA version."""
    facts: Dict[str, Any] = {'device_count': torch.cuda.device_count(), 'cuda': torch.version.cuda}
    if facts['device_count']:
        facts['chip'] = torch.cuda.get_device_name(0)
    return facts


def torch_facts(device: Optional[str]) -> Dict[str, Any]:
    """Versions and the device's facts; ``torch_error`` instead when torch (or torch_npu) fails to load."""
    facts: Dict[str, Any] = {
        'python': platform.python_version(),
        'torch_npu': distribution_version('torch-npu', 'torch_npu'),
        'mmengine': distribution_version('mmengine'),
    }
    try:
        import torch
    except Exception as error:  # torch_npu's autoload raises RuntimeError when CANN cannot be loaded
        facts['torch'] = distribution_version('torch')
        facts['torch_error'] = f'{type(error).__name__}: {error}'.strip()
        return facts
    facts['torch'] = torch.__version__
    from ssd_npu.utils import get_device

    try:
        facts['device'] = get_device(device)
        if facts['device'] == 'npu':
            facts.update(_npu_facts(torch))
        elif facts['device'] == 'cuda':
            facts.update(_cuda_facts(torch))
        else:
            facts.update(device_count=1, chip=cpu_name(), cpu_cores=os.cpu_count())
    except Exception as error:  # a device asked for that this host lacks, or a driver that fails
        facts['device_error'] = f'{type(error).__name__}: {error}'.strip()
    return facts


def main() -> None:
    """Print the facts of ``--device`` (default: the device ssd_npu would pick) as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=['npu', 'cuda', 'cpu'], help='default: npu > cuda > cpu')
    args = parser.parse_args()
    print(json.dumps(torch_facts(args.device)))


if __name__ == '__main__':
    main()
