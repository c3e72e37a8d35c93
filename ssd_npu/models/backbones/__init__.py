from .mobilenet_v2 import MobileNetV2
from .ssd_vgg import SSDVGG

__all__ = ['MobileNetV2', 'SSDVGG']
