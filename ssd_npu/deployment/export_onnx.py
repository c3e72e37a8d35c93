"""Export an SSD to one ONNX file with its post-processing inside (``tools/deployment/export_onnx.py``).

The file follows :mod:`.onnx_contract`.
"""
import json
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn

from ssd_npu.config import input_size_from_config

from .exportable_ssd import ExportableSSD
from .onnx_contract import INPUT_NAME, OUTPUT_NAMES
from .onnx_nms import ONNX_TRANSLATIONS

# torch 2.14's exporter (torch.export + onnxscript) writes opset 18 or newer.
MIN_OPSET = 18


def export_onnx(model: nn.Module, out_file: Union[str, Path], *, input_size: Optional[Sequence[int]] = None,
                batch_size: int = 1, dynamic_batch: bool = False, opset: int = MIN_OPSET,
                score_thr: Optional[float] = None, max_per_img: Optional[int] = None,
                simplify: bool = False) -> Path:
    """Write ``model`` (an :class:`SSD` from :func:`~ssd_npu.apis.init_detector`) as ONNX and check it.

    Args:
        model: the detector; its ``cfg`` gives the input size unless ``input_size`` is set.
        out_file: the .onnx file to write.
        input_size: (h, w) of the network input.
        batch_size: the fixed batch size of the file (ignored with ``dynamic_batch``).
        dynamic_batch: one file for any batch size.
        opset: ONNX opset (>= 18).
        score_thr, max_per_img: override ``test_cfg`` (K = ``max_per_img`` rows per image).
        simplify: run onnxslim on the result (``pip install onnxslim``).

    Returns:
        The path written. The file passes ``onnx.checker`` (full check).
    """
    import onnx

    if opset < MIN_OPSET:
        raise ValueError(f'export: opset {opset} is not supported: the ONNX exporter of torch '
                         f'{torch.__version__} writes opset {MIN_OPSET} or newer')
    if batch_size < 1:
        raise ValueError(f'export: batch_size must be >= 1, got {batch_size}')
    height, width = input_size if input_size is not None else input_size_from_config(model.cfg)
    test_cfg = dict(model.bbox_head.test_cfg)
    if score_thr is not None:
        test_cfg['score_thr'] = score_thr
    if max_per_img is not None:
        test_cfg['max_per_img'] = max_per_img
    if test_cfg.get('min_bbox_size', -1) > 0:
        warnings.warn('export: test_cfg.min_bbox_size is applied to boxes in input pixels in the ONNX file '
                      '(PyTorch applies it after rescaling to the original image)', stacklevel=2)
    exportable = ExportableSSD(model, test_cfg).eval()
    images = torch.rand(2 if dynamic_batch else batch_size, 3, height, width,
                        generator=torch.Generator().manual_seed(0)) * 255
    dynamic_shapes = ({0: torch.export.Dim('batch', min=1, max=4096)},) if dynamic_batch else None
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        program = torch.onnx.export(exportable, (images.to(_device(model)),), dynamo=True,
                                    input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                                    opset_version=opset, dynamic_shapes=dynamic_shapes,
                                    custom_translation_table=ONNX_TRANSLATIONS, verbose=False)
    onnx_model = program.model_proto
    if simplify:
        onnx_model = _slim(onnx_model)
    classes = (getattr(model, 'dataset_meta', None) or {}).get('classes')
    metadata = {'input_size': f'{height},{width}', 'num_classes': str(model.bbox_head.num_classes),
                'producer': 'ssd_npu'}
    if classes:
        metadata['classes'] = json.dumps(list(classes))
    onnx.helper.set_model_props(onnx_model, metadata)
    onnx.save(onnx_model, str(out_file))
    onnx.checker.check_model(str(out_file), full_check=True)
    return out_file


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _slim(onnx_model):
    try:
        import onnxslim
    except ImportError as error:
        raise ImportError('export: --simplify needs onnxslim (pip install onnxslim)') from error
    return onnxslim.slim(onnx_model)
