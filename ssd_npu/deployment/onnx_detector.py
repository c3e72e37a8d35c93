"""An exported SSD (.onnx) run by onnxruntime behind the detector interface of :class:`SSD`.

``test_step`` / ``val_step`` / ``forward(mode='predict')`` return the same
:class:`DetDataSample` structure as the PyTorch model, so the Runner's test loop,
``inference_detector`` and the visualiser take either.
"""
import json
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor

from ssd_npu.registry import MODELS
from ssd_npu.structures import DetDataSample

from .onnx_contract import INPUT_NAME, OUTPUT_NAMES


@MODELS.register_module()
class ONNXDetector(BaseModel):
    """Detections from an ONNX file written by :func:`~ssd_npu.deployment.export_onnx`.

    Args:
        onnx_file: the exported model.
        providers: onnxruntime execution providers (default: CPU).
        dataset_meta: class names etc.; default: the file's ``classes`` metadata.
        num_threads: onnxruntime's intra-op threads (default: onnxruntime's choice).

    ``bbox_head.num_classes`` is the exported head's class count. Batches are fed to the file
    in its batch size (a fixed-batch file gets the last, shorter batch padded); inputs must
    already have the file's height and width.
    """

    def __init__(self, onnx_file: Union[str, Path], providers: Optional[Sequence[str]] = None,
                 dataset_meta: Optional[dict] = None, num_threads: Optional[int] = None) -> None:
        super().__init__()
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError("ONNXDetector needs onnxruntime: pip install -e '.[export]'") from error
        if not Path(onnx_file).is_file():
            raise FileNotFoundError(f'ONNXDetector: ONNX file not found: {onnx_file}')
        self.onnx_file = str(onnx_file)
        options = onnxruntime.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        self.session = onnxruntime.InferenceSession(self.onnx_file, options,
                                                    providers=list(providers or ['CPUExecutionProvider']))
        inputs = self.session.get_inputs()
        if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in self.session.get_outputs()] != list(
                OUTPUT_NAMES):
            raise ValueError(f'ONNXDetector: {onnx_file} is not an ssd_npu export (input "{INPUT_NAME}", '
                             f'outputs {", ".join(OUTPUT_NAMES)})')
        batch, _, height, width = inputs[0].shape
        self.batch_size = batch if isinstance(batch, int) else None   # None: any batch size
        self.input_size = (height, width)
        metadata = self.session.get_modelmeta().custom_metadata_map
        # The exported head's class count where the checks look for it (NumClassCheckHook).
        self.bbox_head = SimpleNamespace(num_classes=int(metadata['num_classes']))
        if dataset_meta is None and 'classes' in metadata:
            dataset_meta = {'classes': tuple(json.loads(metadata['classes']))}
        self.dataset_meta = dataset_meta

    def expected_shape(self) -> str:
        batch = 'B' if self.batch_size is None else self.batch_size
        return f'[{batch}, 3, {self.input_size[0]}, {self.input_size[1]}]'

    def run(self, images: np.ndarray) -> List[np.ndarray]:
        """Raw outputs (boxes, scores, labels, num_dets) of float32 [B, 3, H, W] BGR 0..255 images."""
        if images.ndim != 4 or images.shape[1:] != (3, *self.input_size):
            raise ValueError(f'ONNXDetector: {self.onnx_file} takes images of shape {self.expected_shape()} '
                             f'(BGR, 0..255, resized to the model input size), got {list(images.shape)}')
        step = self.batch_size or len(images)
        chunks = []
        for start in range(0, len(images), step):
            chunk = images[start:start + step]
            padding = step - len(chunk)
            if padding:
                chunk = np.concatenate([chunk, np.zeros((padding, *chunk.shape[1:]), chunk.dtype)])
            feed = {INPUT_NAME: np.ascontiguousarray(chunk, np.float32)}
            outputs = self.session.run(list(OUTPUT_NAMES), feed)
            chunks.append([output[:step - padding] for output in outputs])
        return [np.concatenate(parts) for parts in zip(*chunks)]

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]],
                data_samples: Optional[List[DetDataSample]] = None,
                mode: str = 'predict') -> List[DetDataSample]:
        if mode != 'predict':
            raise RuntimeError(f'ONNXDetector: only mode "predict" exists (an ONNX file does not train), '
                               f'got "{mode}"')
        return self.predict(inputs, data_samples)

    def predict(self, inputs: Union[Tensor, Sequence[Tensor]], data_samples: Optional[List[DetDataSample]],
                rescale: bool = True) -> List[DetDataSample]:
        """Detections of a batch, as :meth:`SSD.predict` (the un-normalised images as the dataloader
        gives them: uint8 or float [3, H, W] each, BGR)."""
        images = inputs if isinstance(inputs, Tensor) else torch.stack(list(inputs))
        boxes, scores, labels, num_dets = self.run(images.detach().cpu().float().numpy())
        if data_samples is None:
            data_samples = [DetDataSample() for _ in range(len(images))]
        for i, sample in enumerate(data_samples):
            count = int(num_dets[i])
            bboxes = torch.from_numpy(boxes[i, :count].copy())
            if rescale and 'scale_factor' in sample:
                # As SSDHead.shape_tensors: reciprocals in double precision, a float32 multiply.
                inverse = torch.tensor([1 / s for s in sample.scale_factor[:2]], dtype=torch.float32)
                bboxes = bboxes * inverse.repeat(2)
            sample.pred_instances = InstanceData(bboxes=bboxes,
                                                 scores=torch.from_numpy(scores[i, :count].copy()),
                                                 labels=torch.from_numpy(labels[i, :count].copy()))
        return data_samples

    def test_step(self, data: dict) -> List[DetDataSample]:
        return self.predict(data['inputs'], data.get('data_samples'))

    def val_step(self, data: dict) -> List[DetDataSample]:
        return self.test_step(data)
