"""ssd_npu: SSD detectors trained the mmdetection way on Ascend NPU, NVIDIA GPU and CPU."""
import mmcv_patches

from .utils.device import get_device

# mmengine's fixes, with mmengine's get_device answering ssd_npu's device choice (--device).
mmcv_patches.apply(get_device=get_device)

__version__ = '0.1.0'
