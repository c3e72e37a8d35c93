from .device import dist_backend, get_device, is_npu_available

__all__ = ['dist_backend', 'get_device', 'is_npu_available']
