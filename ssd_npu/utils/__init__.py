from .device import dist_backend, get_device, is_npu_available
from .network import free_local_port

__all__ = ['dist_backend', 'free_local_port', 'get_device', 'is_npu_available']
