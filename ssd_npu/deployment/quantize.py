"""Int8 static quantization (QDQ) of an exported SSD, calibrated on the config's test images.

The network (every node upstream of a convolution's output: backbone, neck, head) is quantized;
the post-processing (box decoding, score threshold, NMS, top-k: every node after the last
convolutions) stays float32. The quantized file has the fp32 file's input, outputs and metadata
(:mod:`.onnx_contract`), so ``tools/test.py`` and the benchmarks take it as they take the fp32 one.
"""
import tempfile
from pathlib import Path
from typing import Iterator, List, Optional, Set, Union

import numpy as np
from mmengine.config import Config

from ssd_npu.config import leaf_datasets, load_config
from ssd_npu.errors import UsageError

from .onnx_contract import INPUT_NAME, OUTPUT_NAMES

# Ops of the network that onnxruntime runs in int8 (QLinearConv, QLinearAdd, ...) or that pass
# quantized tensors through; Clip/Relu after a Conv are folded into its output range.
NETWORK_OP_TYPES = ('Conv', 'Clip', 'Relu', 'Add', 'MaxPool', 'Concat', 'MatMul', 'Gemm')


def onnx_export_metadata(model) -> dict:
    """The metadata of one of our exports, or UsageError."""
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    if inputs != [INPUT_NAME] or outputs != list(OUTPUT_NAMES) or not {'input_size', 'num_classes'} <= set(
            metadata):
        raise UsageError(f'quantize: not an ssd_npu ONNX export (input "{INPUT_NAME}", outputs '
                         f'{", ".join(OUTPUT_NAMES)}, metadata input_size and num_classes); write one with '
                         'tools/deployment/export_onnx.py')
    return metadata


def network_nodes(model) -> Set[str]:
    """Names of the nodes that compute the network: the convolutions and everything they depend on."""
    producer = {output: node for node in model.graph.node for output in node.output}
    network, stack = set(), [node for node in model.graph.node if node.op_type in ('Conv', 'MatMul', 'Gemm')]
    while stack:
        node = stack.pop()
        if node.name in network:
            continue
        network.add(node.name)
        stack.extend(producer[name] for name in node.input if name in producer)
    return network


def calibration_images(cfg: Config, num_images: int) -> Iterator[np.ndarray]:
    """float32 [1, 3, H, W] BGR 0..255 images of the test (else val) dataset after its pipeline:
    the exported file's input (normalisation is inside the file)."""
    from mmengine.registry import init_default_scope

    import ssd_npu.datasets  # noqa: F401  (registers the datasets and transforms)
    from ssd_npu.registry import DATASETS

    init_default_scope(cfg.get('default_scope', 'ssd_npu'))

    dataset_cfg = None
    for loader in ('test_dataloader', 'val_dataloader'):
        if isinstance(cfg.get(loader), dict) and isinstance(cfg[loader].get('dataset'), dict):
            dataset_cfg = next(leaf_datasets(cfg[loader]['dataset']))
            break
    if dataset_cfg is None:
        raise UsageError('quantize: the config has no test_dataloader or val_dataloader dataset to '
                         'calibrate on')
    dataset = DATASETS.build(dict(dataset_cfg, test_mode=True))
    if len(dataset) == 0:
        raise UsageError('quantize: the calibration dataset is empty')
    for index in range(min(num_images, len(dataset))):
        inputs = dataset[index]['inputs']
        yield np.ascontiguousarray(inputs.numpy()[None], np.float32)


class _Reader:
    """onnxruntime's CalibrationDataReader over a list of images."""

    def __init__(self, images: List[np.ndarray]) -> None:
        self.images = iter(images)

    def get_next(self) -> Optional[dict]:
        image = next(self.images, None)
        return None if image is None else {INPUT_NAME: image}

    def rewind(self) -> None:  # not used by onnxruntime's MinMax calibration
        pass


def quantize_onnx(config: Union[str, Path, Config, None], onnx_file: Union[str, Path],
                  out_file: Union[str, Path], *, calib_images: int = 32, per_channel: bool = True,
                  reduce_range: bool = False,
                  activation_type: str = 'QUInt8', weight_type: str = 'QInt8',
                  images: Optional[List[np.ndarray]] = None) -> Path:
    """Write an int8 (QDQ) version of ``onnx_file``, calibrated on ``calib_images`` test images.

    Args:
        config: the model's config (its test or val dataset and pipeline give the images).
        onnx_file: an fp32 file from :func:`~ssd_npu.deployment.export_onnx`.
        out_file: the .onnx file to write.
        calib_images: how many images to calibrate on (>= 1).
        per_channel: one weight scale per output channel (default; depthwise convolutions,
            as in MobileNetV2, lose their accuracy with one scale per tensor).
        reduce_range: 7-bit weights (avoids int16 saturation of AVX2's u8*s8 kernels; costs accuracy).
        activation_type, weight_type: 'QUInt8' or 'QInt8'. The default, uint8 activations and int8
            weights (U8S8), is onnxruntime's fast path on x86 (AVX2 and VNNI alike).
        images: calibration inputs to use instead of the dataset's (float32 [1, 3, H, W] each).

    Returns:
        The path written.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calib_images < 1:
        raise UsageError(f'quantize: --calib-images must be >= 1, got {calib_images}')
    onnx_file, out_file = Path(onnx_file), Path(out_file)
    if not onnx_file.is_file():
        raise UsageError(f'quantize: ONNX file not found: {onnx_file}')
    try:
        fp32 = onnx.load(str(onnx_file))
    except Exception as error:  # noqa: BLE001 - any parse failure means "not an ONNX file"
        raise UsageError(f'quantize: {onnx_file} is not an ONNX file ({type(error).__name__})') from error
    metadata = onnx_export_metadata(fp32)
    types = {name: getattr(QuantType, name) for name in ('QUInt8', 'QInt8')}
    if activation_type not in types or weight_type not in types:
        raise UsageError(f'quantize: activation and weight types are QUInt8 or QInt8, got '
                         f'{activation_type}, {weight_type}')
    if images is None:
        cfg = config if isinstance(config, Config) else load_config(config)
        images = list(calibration_images(cfg, calib_images))
    else:
        images = images[:calib_images]
    expected = tuple(d.dim_value or None for d in fp32.graph.input[0].type.tensor_type.shape.dim)
    height, width = map(int, metadata['input_size'].split(','))
    if images[0].shape[1:] != (3, height, width):
        raise UsageError(f'quantize: the calibration images are {list(images[0].shape[2:])}, '
                         f'the file takes {height}x{width}: is this the config of the file?')
    if expected[0] not in (None, 1):  # a fixed batch of B: calibrate on batches of B
        batch = expected[0]
        images = [np.concatenate([images[(i + j) % len(images)] for j in range(batch)])
                  for i in range(0, len(images), batch)]

    out_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / 'prepared.onnx'
        # onnxruntime's recommended preparation: shape inference and its graph optimisations
        # (BatchNorm already folded by the exporter; here constant folding and fusions).
        quant_pre_process(str(onnx_file), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))
        network = network_nodes(model)
        excluded = [node.name for node in model.graph.node if node.name not in network]
        quantize_static(str(prepared), str(out_file), _Reader(images), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(NETWORK_OP_TYPES), nodes_to_exclude=excluded,
                        per_channel=per_channel, reduce_range=reduce_range,
                        activation_type=types[activation_type], weight_type=types[weight_type],
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={'ActivationSymmetric': False})
    quantized = onnx.load(str(out_file))
    del quantized.metadata_props[:]
    onnx.helper.set_model_props(quantized, {**metadata, 'quantization': _describe(
        per_channel, reduce_range, activation_type, weight_type, len(images))})
    onnx.save(quantized, str(out_file))
    return out_file


def _describe(per_channel: bool, reduce_range: bool, activation_type: str, weight_type: str,
              batches: int) -> str:
    granularity = 'per-channel' if per_channel else 'per-tensor'
    return (f'int8 QDQ static, activations {activation_type}, weights {weight_type} {granularity}'
            f'{", reduce_range" if reduce_range else ""}, MinMax on {batches} calibration batches')
