"""ssd_npu: SSD detectors trained the mmdetection way on Ascend NPU, NVIDIA GPU and CPU."""
import mmcv_patches

mmcv_patches.apply()

__version__ = '0.1.0'
