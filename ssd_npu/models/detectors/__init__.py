from .checks import check_num_classes, min_input_size
from .ssd import SSD

__all__ = ['SSD', 'check_num_classes', 'min_input_size']
