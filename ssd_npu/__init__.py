"""ssd_npu: SSD detectors trained the mmdetection way on Ascend NPU, NVIDIA GPU and CPU."""
import os

# OpenMP threads sleep instead of spinning between parallel regions. Torch's bundled OpenMP and
# the one TorchInductor's compiled CPU kernels use are two runtimes: spinning, each starves the
# other (a compiled SSDLite step took 30x longer on 2 cores), and so does any other load on a
# shared machine. Read when torch loads, so it must come first; an explicit setting wins.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import mmcv_patches  # noqa: E402

from .utils.device import get_device  # noqa: E402

# mmengine's fixes, with mmengine's get_device answering ssd_npu's device choice (--device).
mmcv_patches.apply(get_device=get_device)

__version__ = '0.1.0'
