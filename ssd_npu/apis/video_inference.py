"""Detection on every frame of a video file or a camera (mmdetection's ``video_demo.py`` and
``webcam_demo.py`` in one), batched through a :class:`DetInferencer`.

Writes ``OUT_DIR/vis/<name>.mp4`` (every frame drawn, at the source's frame size and rate) and
``OUT_DIR/preds/<name>.json``: ``{"fps": ..., "frames": [{"frame": i, "labels": [...],
"scores": [...], "bboxes": [[x1, y1, x2, y2], ...]}, ...]}`` in original-frame pixels.
"""
import collections
from pathlib import Path
from typing import Iterator, Optional, Union

import cv2
import numpy as np

from .det_inferencer import DetInferencer, prediction_dict, write_json

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv')
# Used when a camera does not report its rate.
DEFAULT_CAMERA_FPS = 30.0


def camera_index(source: Union[str, int]) -> Optional[int]:
    """The camera ``source`` names (an int or a string of digits), else None."""
    return int(source) if isinstance(source, int) or str(source).isdigit() else None


def is_video_source(source: Union[str, int]) -> bool:
    """A camera index (``0``, ``'1'``) or a file with a video extension."""
    return camera_index(source) is not None or Path(str(source)).suffix.lower() in VIDEO_EXTENSIONS


def detect_video(inferencer: DetInferencer, source: Union[str, int], out_dir: str = 'outputs',
                 batch_size: int = 1, pred_score_thr: float = 0.3, show: bool = False,
                 no_save_vis: bool = False, no_save_pred: bool = False,
                 max_frames: Optional[int] = None) -> dict:
    """Detect objects in every frame of ``source`` until it ends, ``max_frames`` are read, Ctrl-C,
    or ``q``/Esc in the window (with ``show``).

    Args:
        source: a video file, or a camera index (an int or a string of digits).
        out_dir: where ``vis/`` and ``preds/`` go; '' writes nothing.
        pred_score_thr: drawings show detections above this score (the predictions keep all).

    Returns:
        ``{'frames': N, 'fps': ..., 'video': path or None, 'predictions': path or None,
        'images_per_second': ...}``.

    Raises:
        FileNotFoundError: the file or camera cannot be opened.
    """
    camera = camera_index(source)
    capture = cv2.VideoCapture(str(source) if camera is None else camera)
    if not capture.isOpened():
        kind = 'video' if camera is None else 'camera'
        raise FileNotFoundError(f'detect_video: cannot open {kind} {source}')
    name = Path(str(source)).stem if camera is None else f'camera_{camera}'
    fps = capture.get(cv2.CAP_PROP_FPS) or DEFAULT_CAMERA_FPS
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    total = min(count, max_frames or count) if count > 0 else max_frames
    video_file = Path(out_dir) / 'vis' / f'{name}.mp4' if out_dir and not no_save_vis else None
    preds_file = Path(out_dir) / 'preds' / f'{name}.json' if out_dir and not no_save_pred else None

    # Frames wait here between being read (for the batch) and being drawn (after its results).
    waiting: collections.deque = collections.deque()
    stop = []

    def frames() -> Iterator[np.ndarray]:
        while not stop and (max_frames is None or len(per_frame) + len(waiting) < max_frames):
            ok, frame = capture.read()
            if not ok:
                return
            waiting.append(frame)
            yield frame

    per_frame, writer = [], None
    try:
        for result in inferencer.predict(frames(), batch_size, total):
            frame = waiting.popleft()
            drawn = inferencer.draw(frame, result, pred_score_thr)[..., ::-1]   # RGB -> BGR
            if video_file is not None:
                if writer is None:
                    video_file.parent.mkdir(parents=True, exist_ok=True)
                    writer = cv2.VideoWriter(str(video_file), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(np.ascontiguousarray(drawn))
            per_frame.append(dict(frame=len(per_frame), **prediction_dict(result)))
            if show:
                cv2.imshow(name, np.ascontiguousarray(drawn))
                if cv2.waitKey(1) & 0xFF in (ord('q'), 27):
                    stop.append(True)
    except KeyboardInterrupt:  # a camera runs until stopped: keep what was written
        pass
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if show:
            cv2.destroyAllWindows()
    if preds_file is not None:
        write_json(preds_file, dict(fps=fps, frames=per_frame))
    return dict(frames=len(per_frame), fps=fps, video=str(video_file) if writer is not None else None,
                predictions=str(preds_file) if preds_file is not None else None,
                images_per_second=inferencer.images_per_second)
