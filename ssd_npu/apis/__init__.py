from .det_inferencer import DetInferencer, list_images, prediction_dict
from .draw import detect_and_draw
from .inference import inference_detector, init_detector, init_onnx_detector
from .video_inference import detect_video, is_video_source

__all__ = ['DetInferencer', 'detect_and_draw', 'detect_video', 'inference_detector', 'init_detector',
           'init_onnx_detector', 'is_video_source', 'list_images', 'prediction_dict']
