"""The ``homography_matrix`` that mmdetection's geometric transforms keep in ``results``."""
import numpy as np


def record_homography(results: dict, matrix: np.ndarray) -> None:
    """Compose ``matrix`` (3x3, float32, mapping the input image's pixel coordinates (x, y, 1)
    to the output's) after the ``results['homography_matrix']`` of earlier transforms."""
    previous = results.get('homography_matrix')
    results['homography_matrix'] = matrix if previous is None else matrix @ previous


def translation(dx: float, dy: float) -> np.ndarray:
    """3x3 float32: ``(x, y) -> (x + dx, y + dy)``."""
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float32)
