from .device import dist_backend, get_device, is_npu_available
from .setup_env import register_all_modules

__all__ = ['dist_backend', 'get_device', 'is_npu_available', 'register_all_modules']
