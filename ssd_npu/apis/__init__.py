from .draw import detect_and_draw
from .inference import inference_detector, init_detector, init_onnx_detector

__all__ = ['detect_and_draw', 'inference_detector', 'init_detector', 'init_onnx_detector']
