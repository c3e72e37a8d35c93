"""Deployment: export an SSD to ONNX with its post-processing inside, and run the file."""
from .export_onnx import export_onnx
from .exportable_ssd import ExportableSSD
from .onnx_contract import INPUT_NAME, OUTPUT_NAMES, is_onnx_file
from .onnx_detector import ONNXDetector

__all__ = ['ExportableSSD', 'INPUT_NAME', 'ONNXDetector', 'OUTPUT_NAMES', 'export_onnx', 'is_onnx_file']
