"""Confusion matrix of a test run's detections against the test set's ground truth.

    python tools/test.py CONFIG CHECKPOINT --out results.pkl
    python tools/analysis_tools/confusion_matrix.py CONFIG results.pkl SAVE_DIR [--score-thr 0.3] \
        [--tp-iou-thr 0.5] [--nms-iou-thr 0.45] [--show] [--color-theme plasma] [--cfg-options ...]

Writes ``SAVE_DIR/confusion_matrix.png`` (row-normalised percentages) and
``SAVE_DIR/confusion_matrix.json`` (``classes`` with ``'background'`` last, ``matrix`` of integer
counts, the thresholds). Row ``i`` is ground-truth class ``i``, column ``j`` predicted class ``j``;
the last row and column are background. All boxes are xyxy in original-image pixels: the
dataset's annotations, and the predictions of ``tools/test.py --out`` (the model predicts with
``rescale=True``).

Per image, with the detections of score >= ``--score-thr`` (after an optional class-wise NMS at
``--nms-iou-thr``), taken by decreasing score:

1. same class (PASCAL VOC rule, as in mmdetection's ``eval_map``): a detection takes the
   ground-truth box of its class it overlaps most; with IoU >= ``--tp-iou-thr`` and that box not
   yet taken it is a match (diagonal cell). When that box is ignored (COCO crowd, VOC difficult:
   ``ignore_flag=1``) the detection is left out of the matrix; when it is taken already, the
   detection is a duplicate and goes on to step 2;
2. class confusion (mmdetection 3.3's rule: IoU >= ``--tp-iou-thr`` with a box of another class):
   a detection left over takes the not-yet-counted ground-truth box of another class it overlaps
   most, if that IoU >= ``--tp-iou-thr``: cell (ground-truth class, detected class);
3. a ground-truth box still not counted is missed: (its class, background); a detection still
   left over is a false positive: (background, its class).

So each ground-truth box that is not ignored counts exactly once in its row, and each detection at
most once (another class's detection on a box already matched is a false positive). mmdetection
3.3's tool differs in that it adds one count per (detection, ground truth) pair with IoU >=
``--tp-iou-thr``: a box found by the right class and overlapped by another one counts in both
cells (and is then not missed), a duplicate detection counts on the diagonal again, and crowd
boxes count as ordinary ground truth.

The predictions file is unpickled with an allow-list (tensors, numpy arrays, plain containers):
a pickle that would run code is refused. Predictions pair with the dataset's images by
``img_path``, else ``img_id``, in any order.
"""
import argparse
import io
import json
import os
import os.path as osp
import pickle
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import DictAction

from ssd_npu.cli.friendly_errors import friendly_errors
from ssd_npu.config import load_config, set_data_root
from ssd_npu.errors import UsageError
from ssd_npu.evaluation.functional import bbox_overlaps
from ssd_npu.models.layers import batched_nms
from ssd_npu.registry import DATASETS
from ssd_npu.setup_env import register_all_modules

BACKGROUND = 'background'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the predictions were made with (its test_dataloader)')
    parser.add_argument('prediction_path', help='predictions of tools/test.py --out (.pkl)')
    parser.add_argument('save_dir', help='folder for confusion_matrix.png and confusion_matrix.json')
    parser.add_argument('--show', action='store_true', help='also show the matrix in a window')
    parser.add_argument('--color-theme', default='plasma', help='matplotlib colour map of the picture')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections with a lower score are left out')
    parser.add_argument('--tp-iou-thr', type=float, default=0.5,
                        help='IoU a detection needs with a ground-truth box to count for it')
    parser.add_argument('--nms-iou-thr', type=float, default=None,
                        help="class-wise NMS at this IoU on each image's detections first "
                             '(default: none beyond the model\'s own)')
    parser.add_argument('--data-root', metavar='DIR', help="the test dataset's folder (its data_root)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. test_dataloader.dataset.ann_file=...')
    return parser.parse_args(argv)


def check_color_theme(name: str) -> None:
    """Raise :class:`UsageError` unless ``name`` is a matplotlib colour map."""
    import difflib

    import matplotlib
    if name not in matplotlib.colormaps:
        close = difflib.get_close_matches(name, list(matplotlib.colormaps), n=3)
        hint = f' Did you mean: {", ".join(close)}?' if close else ' (e.g. plasma, viridis, Blues)'
        raise UsageError(f'--color-theme {name} is not a matplotlib colour map.{hint}')


def check_thresholds(score_thr: float, tp_iou_thr: float, nms_iou_thr: Optional[float]) -> None:
    """Raise :class:`UsageError` unless 0 <= score_thr <= 1 and both IoU thresholds are in (0, 1]."""
    if not 0 <= score_thr <= 1:
        raise UsageError(f'--score-thr must be between 0 and 1 (scores are probabilities), got {score_thr}')
    if not 0 < tp_iou_thr <= 1:
        raise UsageError(f'--tp-iou-thr must be above 0 and at most 1, got {tp_iou_thr}')
    if nms_iou_thr is not None and not 0 < nms_iou_thr <= 1:
        raise UsageError(f'--nms-iou-thr must be above 0 and at most 1 (or left out), got {nms_iou_thr}')


def image_confusion(gt_bboxes: np.ndarray, gt_labels: np.ndarray, gt_ignore: np.ndarray,
                    det_bboxes: np.ndarray, det_scores: np.ndarray, det_labels: np.ndarray,
                    num_classes: int, score_thr: float = 0.3, tp_iou_thr: float = 0.5,
                    nms_iou_thr: Optional[float] = None) -> np.ndarray:
    """The confusion counts of one image (the rules are in this module's docstring).

    Args:
        gt_bboxes: (G, 4) ground-truth boxes, xyxy pixels.
        gt_labels: (G,) 0-based classes.
        gt_ignore: (G,) bool, True for ignored boxes (crowd / difficult, ``ignore_flag=1``).
        det_bboxes: (D, 4) detections, xyxy pixels of the same image size as ``gt_bboxes``.
        det_scores: (D,) scores.
        det_labels: (D,) 0-based classes.
        num_classes: number of classes C.
        score_thr: detections with a lower score are left out.
        tp_iou_thr: IoU needed to count a detection for a ground-truth box.
        nms_iou_thr: if set, class-wise NMS at this IoU after the score threshold.

    Returns:
        (C + 1, C + 1) int64: rows ground truth, columns detections, background last.
    """
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    gt_bboxes = np.asarray(gt_bboxes, dtype=np.float32).reshape(-1, 4)
    gt_labels = np.asarray(gt_labels, dtype=np.int64).reshape(-1)
    gt_ignore = np.asarray(gt_ignore, dtype=bool).reshape(-1)
    keep = np.asarray(det_scores, dtype=np.float32).reshape(-1) >= score_thr
    det_bboxes = np.asarray(det_bboxes, dtype=np.float32).reshape(-1, 4)[keep]
    det_scores = np.asarray(det_scores, dtype=np.float32).reshape(-1)[keep]
    det_labels = np.asarray(det_labels, dtype=np.int64).reshape(-1)[keep]
    if nms_iou_thr is not None and det_scores.size:
        kept = batched_nms(torch.from_numpy(det_bboxes), torch.from_numpy(det_scores),
                           torch.from_numpy(det_labels), nms_iou_thr).numpy()
        det_bboxes, det_scores, det_labels = det_bboxes[kept], det_scores[kept], det_labels[kept]
    order = np.argsort(-det_scores, kind='stable')

    num_gts, num_dets = gt_labels.size, det_labels.size
    ious = bbox_overlaps(det_bboxes, gt_bboxes) if num_gts and num_dets else np.zeros((num_dets, num_gts))
    same_class = det_labels[:, None] == gt_labels[None, :]
    gt_counted = np.zeros(num_gts, dtype=bool)
    det_done = np.zeros(num_dets, dtype=bool)

    def best(i: int, candidates: np.ndarray) -> Optional[int]:
        """The candidate box detection ``i`` overlaps most, if by tp_iou_thr at least."""
        if not candidates.any():
            return None
        j = int(np.argmax(np.where(candidates, ious[i], -1.0)))
        return j if ious[i, j] >= tp_iou_thr else None

    for i in order:  # 1. same class, VOC rule: the best box of the class, whether taken or not
        j = best(i, same_class[i])
        if j is None:
            continue
        if gt_ignore[j]:
            det_done[i] = True  # on an ignored box: neither a match nor a false positive
        elif not gt_counted[j]:
            gt_counted[j] = det_done[i] = True
            matrix[gt_labels[j], gt_labels[j]] += 1
    for i in order:  # 2. class confusion with the boxes not counted yet
        if det_done[i]:
            continue
        j = best(i, ~same_class[i] & ~gt_ignore & ~gt_counted)
        if j is not None:
            gt_counted[j] = det_done[i] = True
            matrix[gt_labels[j], det_labels[i]] += 1
    np.add.at(matrix, (gt_labels[~gt_counted & ~gt_ignore], num_classes), 1)  # 3. missed
    np.add.at(matrix, (num_classes, det_labels[~det_done]), 1)  # false positives
    return matrix


def ground_truth(data_info: dict) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bboxes (G, 4) xyxy pixels, labels (G,), ignore (G,) bool) of a dataset's data info."""
    instances = data_info.get('instances', [])
    bboxes = np.array([instance['bbox'] for instance in instances], dtype=np.float32).reshape(-1, 4)
    labels = np.array([instance['bbox_label'] for instance in instances], dtype=np.int64)
    ignore = np.array([bool(instance.get('ignore_flag', 0)) for instance in instances], dtype=bool)
    return bboxes, labels, ignore


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def detections(prediction: dict) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bboxes (D, 4) xyxy original-image pixels, scores (D,), labels (D,)) of one prediction."""
    pred = prediction.get('pred_instances')
    if not isinstance(pred, dict) or not {'bboxes', 'scores', 'labels'} <= pred.keys():
        raise UsageError('a prediction has no pred_instances with bboxes, scores and labels: '
                         'the file is not the output of tools/test.py --out')
    return (_numpy(pred['bboxes']).astype(np.float32).reshape(-1, 4), _numpy(pred['scores']).reshape(-1),
            _numpy(pred['labels']).astype(np.int64).reshape(-1))


def dataset_order(predictions: Sequence[dict], data_infos: Sequence[dict]) -> List[int]:
    """The dataset index of each prediction, found by ``img_path`` or else by ``img_id``.

    ``img_path`` is tried first (unique across concatenated datasets), ``img_id`` when the
    paths differ (predictions made with another data root); predictions carrying neither are
    taken in dataset order. Raises :class:`UsageError` when the two do not pair up one to one.
    """
    if len(predictions) != len(data_infos):
        raise UsageError(f'the predictions file has {len(predictions)} predictions but the test dataset '
                         f'has {len(data_infos)} images: it was made with another dataset or config '
                         '(or other --cfg-options)')
    for key in ('img_path', 'img_id'):
        index: Dict[object, int] = {}
        for i, info in enumerate(data_infos):
            index.setdefault(info.get(key), i)
        if None in index or len(index) != len(data_infos):
            continue  # the dataset does not identify its images by this key
        order = [index.get(prediction.get(key), -1) for prediction in predictions]
        if -1 not in order and len(set(order)) == len(order):
            return order
    if all(prediction.get('img_path') is None and prediction.get('img_id') is None
           for prediction in predictions):
        return list(range(len(predictions)))
    paths, ids = {info.get('img_path') for info in data_infos}, {info.get('img_id') for info in data_infos}
    stranger = next((p for p in predictions if p.get('img_path') not in paths and p.get('img_id') not in ids),
                    None)
    which = (f'img_id={stranger.get("img_id")!r}, img_path={stranger.get("img_path")!r} is not in it'
             if stranger is not None else 'some image has two predictions')
    raise UsageError('the predictions do not pair up one to one with the test dataset\'s images by img_path '
                     f'or img_id ({which}): they were made with another dataset or config')


def calculate_confusion_matrix(data_infos: Sequence[dict], predictions: Sequence[dict], num_classes: int,
                               score_thr: float = 0.3, tp_iou_thr: float = 0.5,
                               nms_iou_thr: Optional[float] = None) -> np.ndarray:
    """The (C + 1, C + 1) int64 confusion counts over a dataset.

    Args:
        data_infos: the dataset's data infos, ``instances`` with ``bbox`` (xyxy pixels),
            ``bbox_label`` and ``ignore_flag``.
        predictions: what ``tools/test.py --out`` writes: one dict per image with ``img_id``,
            ``img_path`` and ``pred_instances`` (``bboxes`` xyxy original-image pixels,
            ``scores``, ``labels``), in any order.
        num_classes: number of classes C.
        score_thr, tp_iou_thr, nms_iou_thr: see :func:`image_confusion`.
    """
    check_thresholds(score_thr, tp_iou_thr, nms_iou_thr)
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for prediction, index in zip(predictions, dataset_order(predictions, data_infos)):
        gt = ground_truth(data_infos[index])
        dets = detections(prediction)
        if dets[2].size and not 0 <= dets[2].min() <= dets[2].max() < num_classes:
            raise UsageError(f'a predicted label is outside 0..{num_classes - 1} (the test dataset has '
                             f'{num_classes} classes): the predictions come from a model of another dataset')
        matrix += image_confusion(*gt, *dets, num_classes=num_classes, score_thr=score_thr,
                                  tp_iou_thr=tp_iou_thr, nms_iou_thr=nms_iou_thr)
    return matrix


def _load_tensor_storage(data: bytes):
    """A tensor's storage pickled by torch: read without running code (``weights_only``)."""
    return torch.load(io.BytesIO(data), weights_only=True)


# What a predictions file of tools/test.py --out (mmengine's DumpResults: plain pickle of dicts
# of tensors) refers to; anything else in a pickle could run code, so it is refused.
_PICKLE_GLOBALS = {
    ('torch._utils', '_rebuild_tensor_v2'), ('collections', 'OrderedDict'), ('_codecs', 'encode'),
    ('numpy', 'ndarray'), ('numpy', 'dtype'), ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'), ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
}


class _PredictionsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ('torch.storage', '_load_from_bytes'):
            return _load_tensor_storage
        if (module, name) in _PICKLE_GLOBALS:
            with warnings.catch_warnings():  # numpy 2 renamed numpy.core
                warnings.simplefilter('ignore', DeprecationWarning)
                return getattr(__import__(module, fromlist=[name]), name)
        raise pickle.UnpicklingError(f'it refers to {module}.{name}, which a predictions file does not need '
                                     'and which could run code; it is not loaded')


def load_predictions(path: str) -> List[dict]:
    """The list of per-image dicts in ``path``, unpickled without running code from it."""
    if not osp.isfile(path):
        raise UsageError(f'predictions file not found: {path} (write it with tools/test.py CONFIG '
                         f'CHECKPOINT --out {path})')
    try:
        with open(path, 'rb') as file:
            predictions = _PredictionsUnpickler(file).load()
    except Exception as error:  # noqa: BLE001 - any failure means the same thing to the user
        raise UsageError(f'{path} is not a predictions file of tools/test.py --out: {error}') from None
    if not (isinstance(predictions, list) and all(isinstance(p, dict) for p in predictions)):
        raise UsageError(f'{path} is not a predictions file of tools/test.py --out (a list of dicts, '
                         f'one per image); it holds a {type(predictions).__name__}')
    return predictions


def plot_confusion_matrix(matrix: np.ndarray, labels: Sequence[str], out_file: Optional[str] = None,
                          show: bool = False, title: str = 'Normalized Confusion Matrix',
                          color_theme: str = 'plasma') -> None:
    """Draw the row-normalised matrix in percent; figure and fonts scale with the number of classes.

    A row without any count (a class absent from the ground truth) is grey with '-'; with more
    than 20 classes, cells without counts carry no number.
    """
    import matplotlib
    if not show:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sums = matrix.sum(axis=1, keepdims=True)
    percent = np.divide(matrix * 100.0, sums, out=np.full(matrix.shape, np.nan), where=sums > 0)
    n = len(labels)
    cell = 0.5 if n <= 20 else 0.32  # inches per cell: 81 classes fit a 26-inch side
    side = max(5.0, cell * n)
    value_size = min(9.0, cell * 72 * 0.33)  # points: '100' fits in a cell
    label_size = min(11.0, cell * 72 * 0.45)
    longest = max(len(label) for label in labels)
    margin = 1.0 + 0.6 * longest * label_size / 72  # room for the class names
    fig, ax = plt.subplots(figsize=(side + margin + 1.5, side + margin + 0.5), dpi=100 if n > 20 else 150)
    cmap = plt.get_cmap(color_theme).copy()
    cmap.set_bad('lightgray')  # rows without counts
    image = ax.imshow(percent, cmap=cmap, vmin=0, vmax=100)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    ax.set_title(title, fontsize=label_size + 3, fontweight='bold', pad=20)
    ax.set_ylabel('Ground Truth Label', fontsize=label_size + 1)
    ax.set_xlabel('Prediction Label', fontsize=label_size + 1)
    ax.set_xticks(np.arange(n))
    ax.set_yticks(np.arange(n))
    ax.set_xticklabels(labels, fontsize=label_size)
    ax.set_yticklabels(labels, fontsize=label_size)
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(True, which='minor', linestyle='-', linewidth=0.5, color='white')
    ax.tick_params(which='minor', length=0)
    ax.tick_params(axis='x', bottom=False, top=True, labelbottom=False, labeltop=True)
    ax.xaxis.set_label_position('top')
    plt.setp(ax.get_xticklabels(), rotation=45, ha='left', rotation_mode='anchor')
    for i in range(n):
        for j in range(n):
            value = percent[i, j]
            if n > 20 and matrix[i, j] == 0 and not np.isnan(value):
                continue  # many classes: only the cells that hold counts get a number
            text = '-' if np.isnan(value) else f'{int(round(value))}'
            dark = not np.isnan(value) and np.mean(cmap(value / 100)[:3]) < 0.5
            ax.text(j, i, text, ha='center', va='center', size=value_size, color='white' if dark else 'black')
    ax.set_ylim(n - 0.5, -0.5)
    fig.tight_layout()
    if out_file is not None:
        fig.savefig(out_file, format='png')
    if show:
        plt.show()
    plt.close(fig)


def matrix_json(matrix: np.ndarray, labels: Sequence[str], **thresholds) -> str:
    """JSON text of ``classes``, ``matrix`` (one row of integer counts a line) and ``thresholds``."""
    fields = dict(classes=list(labels), rows='ground truth', columns='prediction', **thresholds)
    lines = [f' {json.dumps(key)}: {json.dumps(value)},' for key, value in fields.items()]
    rows = ',\n'.join(f'  {json.dumps(row)}' for row in matrix.tolist())
    return '{\n' + '\n'.join(lines) + f'\n "matrix": [\n{rows}\n ]\n}}\n'


def summary(matrix: np.ndarray) -> str:
    """One line: ground-truth boxes matched / confused / missed, and false positives."""
    gts = matrix[:-1]
    matched = int(np.trace(gts[:, :-1]))
    missed = int(gts[:, -1].sum())
    confused = int(gts.sum()) - matched - missed
    return (f'{int(gts.sum())} ground-truth boxes: {matched} matched, {confused} taken for another class, '
            f'{missed} missed; {int(matrix[-1].sum())} false positives')


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    with friendly_errors():
        check_thresholds(args.score_thr, args.tp_iou_thr, args.nms_iou_thr)
        check_color_theme(args.color_theme)
        predictions = load_predictions(args.prediction_path)
        cfg = load_config(args.config, args.cfg_options)
        if args.data_root:
            set_data_root(cfg, args.data_root)
        register_all_modules()
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        classes = list(dataset.metainfo['classes'])
        data_infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        matrix = calculate_confusion_matrix(data_infos, predictions, len(classes), args.score_thr,
                                            args.tp_iou_thr, args.nms_iou_thr)
        os.makedirs(args.save_dir, exist_ok=True)
        labels = [*classes, BACKGROUND]
        with open(osp.join(args.save_dir, 'confusion_matrix.json'), 'w') as file:
            file.write(matrix_json(matrix, labels, score_thr=args.score_thr, tp_iou_thr=args.tp_iou_thr,
                                   nms_iou_thr=args.nms_iou_thr, num_images=len(predictions)))
        plot_confusion_matrix(matrix, labels, osp.join(args.save_dir, 'confusion_matrix.png'),
                              show=args.show, color_theme=args.color_theme)
        print(summary(matrix))
        print(f'saved confusion_matrix.png and confusion_matrix.json to {args.save_dir}')


if __name__ == '__main__':
    main(sys.argv[1:])
