"""Deployment: export an SSD to ONNX with its post-processing inside, and run the file."""
from .export_onnx import export_onnx, input_size_from_config
from .exportable_ssd import ExportableSSD
from .onnx_detector import ONNXDetector
from .onnx_test_config import is_onnx_file, setup_onnx_test_config

__all__ = ['ExportableSSD', 'ONNXDetector', 'export_onnx', 'input_size_from_config', 'is_onnx_file',
           'setup_onnx_test_config']
