"""Batched inference on images, arrays, lists and folders (mmdetection 3.x's ``DetInferencer``).

    inferencer = DetInferencer('configs/ssd300_coco.py', 'ssd300_coco.pth', device='cpu')
    result = inferencer('images/', batch_size=8, out_dir='outputs', no_save_pred=False)
    result['predictions'][0]   # {'labels': [...], 'scores': [...], 'bboxes': [[x1, y1, x2, y2], ...]}

The outputs follow mmdetection's layout: ``OUT_DIR/vis/<image name>`` (the drawing) and
``OUT_DIR/preds/<image stem>.json`` (every detection, in original-image pixels, xyxy). Images of a
folder keep their sub-folders there. Every batch has ``batch_size`` images (the last one is padded
with its last image), so a compiled model or a fixed-batch ONNX file sees one input shape; the next
batch is decoded while the current one runs.
"""
import glob
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config

from ssd_npu.deployment import is_onnx_file
from ssd_npu.structures import DetDataSample
from ssd_npu.visualization import DetLocalVisualizer

from .inference import ImageInput, _load, _test_pipelines, init_detector, init_onnx_detector

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')
InferencerInput = Union[ImageInput, Sequence[ImageInput]]
# (output name without extension, image) of one input image: its path relative to the folder it came
# from, or a running index for arrays.
NamedImage = Tuple[str, ImageInput]


def list_images(inputs: InferencerInput) -> List[NamedImage]:
    """The images of ``inputs``: an image file, a folder (searched recursively, sorted), a glob
    pattern, an HxWx3 uint8 BGR array, or a list of files and arrays.

    Raises:
        FileNotFoundError: a path that is neither an image nor a folder, or a folder or pattern
            without images.
    """
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    named: List[NamedImage] = []
    for item in items:
        if isinstance(item, np.ndarray):
            named.append((f'{len(named):08d}', item))
            continue
        path = Path(item)
        if path.is_dir():
            files = [p for p in sorted(path.rglob('*')) if p.suffix.lower() in IMAGE_EXTENSIONS]
            root = path
        elif path.is_file():
            files, root = [path], path.parent
        elif any(char in str(item) for char in '*?['):  # a glob pattern
            files = [Path(p) for p in sorted(glob.glob(str(item), recursive=True))
                     if Path(p).suffix.lower() in IMAGE_EXTENSIONS]
            root = None
        else:
            raise FileNotFoundError(f'DetInferencer: no image, folder or pattern at {item}')
        if not files:
            raise FileNotFoundError(f'DetInferencer: no images ({", ".join(IMAGE_EXTENSIONS)}) in {item}')
        for file in files:
            name = file.relative_to(root).with_suffix('') if root is not None else Path(file.stem)
            named.append((name.as_posix(), str(file)))
    return named


def prediction_dict(result: DetDataSample) -> Dict[str, list]:
    """mmdetection's JSON form of one image's detections: ``labels`` (0-based), ``scores`` and
    ``bboxes`` (xyxy, original-image pixels), as lists."""
    pred = result.pred_instances.cpu()
    return dict(labels=pred.labels.tolist(), scores=pred.scores.tolist(), bboxes=pred.bboxes.tolist())


class DetInferencer:
    """A detector from a config and weights (a checkpoint or an exported ``.onnx`` file), callable
    on images, arrays, lists and folders.

    Args:
        model: config file or :class:`~mmengine.config.Config`.
        weights: checkpoint (``.pth``) or ONNX file; None keeps the initial (random) weights.
        device: e.g. 'cpu', 'cuda:0', 'npu:0' (checkpoints; an ONNX file runs on onnxruntime's CPU).
        show_progress: a progress bar with images/s on the terminal.
        cfg_options: overrides merged into the config, e.g. ``{'model.test_cfg.score_thr': 0.3}``.
    """

    def __init__(self, model: Union[str, Path, Config], weights: Optional[str] = None, device: str = 'cpu',
                 show_progress: bool = True, cfg_options: Optional[dict] = None) -> None:
        if weights is not None and is_onnx_file(weights):
            self.model: nn.Module = init_onnx_detector(weights, model, cfg_options=cfg_options)
        else:
            self.model = init_detector(model, weights, device=device, cfg_options=cfg_options)
        self.show_progress = show_progress
        self.file_pipeline, self.array_pipeline = _test_pipelines(self.model.cfg)
        self.visualizer = DetLocalVisualizer(name=f'det_inferencer_{id(self)}')
        self.visualizer.dataset_meta = self.model.dataset_meta or {}
        self.images_per_second = 0.0

    def __call__(self, inputs: InferencerInput, batch_size: int = 1, out_dir: str = '',
                 pred_score_thr: float = 0.3, show: bool = False, wait_time: float = 0,
                 no_save_vis: bool = False, no_save_pred: bool = True, return_vis: bool = False,
                 return_datasamples: bool = False) -> dict:
        """Detect objects in ``inputs`` (see :func:`list_images`), ``batch_size`` images per forward pass.

        Args:
            out_dir: where ``vis/`` and ``preds/`` go; '' writes nothing.
            pred_score_thr: drawings show detections above this score (the predictions keep all).
            show: show each drawing in a window for ``wait_time`` seconds.
            no_save_vis / no_save_pred: do not write ``vis/`` / ``preds/`` (``preds/`` is off by
                default, as in mmdetection).
            return_vis: also return the drawings (RGB arrays).
            return_datasamples: predictions as :class:`DetDataSample` instead of dicts.

        Returns:
            ``{'predictions': [...], 'visualization': [...]}`` in input order (``visualization``
            is empty unless ``return_vis``).
        """
        named = list_images(inputs)
        images = [image for _, image in named]
        predictions, drawings = [], []
        draw = return_vis or show or (out_dir and not no_save_vis)
        for (name, image), result in zip(named, self.predict(images, batch_size, len(images))):
            as_dict = prediction_dict(result)
            predictions.append(result if return_datasamples else as_dict)
            if out_dir and not no_save_pred:
                write_json(Path(out_dir) / 'preds' / f'{name}.json', as_dict)
            if draw:
                suffix = Path(image).suffix if isinstance(image, (str, Path)) else '.jpg'
                out_file = str(Path(out_dir) / 'vis' / f'{name}{suffix}') if out_dir and not no_save_vis \
                    else None
                drawing = self.draw(image, result, pred_score_thr, out_file, show, wait_time)
                if return_vis:
                    drawings.append(drawing)
        return dict(predictions=predictions, visualization=drawings)

    def predict(self, images: Iterable[ImageInput], batch_size: int = 1,
                total: Optional[int] = None) -> Iterator[DetDataSample]:
        """One :class:`DetDataSample` per image of ``images`` (files or BGR arrays; any iterable, e.g.
        video frames), in order, ``batch_size`` per forward pass (the last batch padded).
        ``total`` sizes the progress bar."""
        if batch_size < 1:
            raise ValueError(f'DetInferencer: batch_size must be >= 1, got {batch_size}')
        batches = _chunks(images, batch_size)
        done, started = 0, time.perf_counter()
        with _Progress(self.show_progress, total) as progress, ThreadPoolExecutor(max_workers=1) as loader:
            pending = _submit_next(loader, batches, self._load_batch, done)
            while pending is not None:
                batch = pending.result()
                pending = _submit_next(loader, batches, self._load_batch, done + len(batch))
                real = len(batch)
                batch = batch + [batch[-1]] * (batch_size - real)   # one input shape for every batch
                data = dict(inputs=[item['inputs'] for item in batch],
                            data_samples=[item['data_samples'] for item in batch])
                with torch.no_grad():
                    results = self.model.test_step(data)[:real]
                done += real
                self.images_per_second = done / max(time.perf_counter() - started, 1e-9)
                progress.advance(real, self.images_per_second)
                yield from results

    def draw(self, image: ImageInput, result: DetDataSample, pred_score_thr: float = 0.3,
             out_file: Optional[str] = None, show: bool = False, wait_time: float = 0) -> np.ndarray:
        """The image (a file or a BGR array) with the detections above ``pred_score_thr``, as RGB;
        written to ``out_file`` when given."""
        rgb = mmcv.imread(str(image), channel_order='rgb') if isinstance(image, (str, Path)) \
            else np.ascontiguousarray(image[..., ::-1])
        self.visualizer.add_datasample('detections', rgb, result, draw_gt=False, show=show,
                                       wait_time=wait_time, out_file=out_file, pred_score_thr=pred_score_thr)
        return self.visualizer.get_image()

    def _load_batch(self, batch: List[ImageInput], first_index: int) -> List[dict]:
        return [_load(image, first_index + i, self.file_pipeline, self.array_pipeline)
                for i, image in enumerate(batch)]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _submit_next(loader: ThreadPoolExecutor, batches: Iterator[list], load: Callable, first_index: int):
    """The next batch, loading in the background (None after the last one)."""
    batch = next(batches, None)
    return None if batch is None else loader.submit(load, batch, first_index)


def write_json(path: Path, content: dict) -> None:
    """Write ``content`` as JSON to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))


class _Progress:
    """A rich progress bar with images/s (nothing when disabled)."""

    def __init__(self, enabled: bool, total: Optional[int]) -> None:
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn('inference'), BarColumn(), MofNCompleteColumn(),
                                TextColumn('{task.fields[rate]}'), TimeElapsedColumn())
            self.task = self.bar.add_task('inference', total=total, rate='')

    def __enter__(self) -> '_Progress':
        if self.bar is not None:
            self.bar.start()
        return self

    def advance(self, images: int, images_per_second: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=images, rate=f'{images_per_second:.1f} img/s')

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
