"""Per-class colours for drawing boxes, and label sizes that follow box size (as mmdetection draws)."""
from typing import List, Sequence, Tuple, Union

import numpy as np
from mmengine.visualization.utils import color_str2rgb

Color = Tuple[int, int, int]


def get_palette(palette: Union[None, str, Color, Sequence[Color]], num_classes: int) -> List[Color]:
    """One RGB colour per class.

    Args:
        palette: a list of RGB tuples (the dataset's ``palette``), one RGB tuple for every class,
            a colour name (``'red'``), or None / ``'random'`` for fixed pseudo-random colours.
        num_classes: how many colours are needed.

    Raises:
        ValueError: a palette list shorter than ``num_classes``.
    """
    if palette is None or palette == 'random':
        # Seeded so a class keeps its colour across images and runs, without touching global RNG.
        colors = np.random.default_rng(42).integers(0, 256, size=(num_classes, 3))
        return [tuple(int(c) for c in color) for color in colors]
    if isinstance(palette, str):
        return [tuple(color_str2rgb(palette))] * num_classes
    if isinstance(palette, tuple) and all(isinstance(c, (int, np.integer)) for c in palette):
        return [tuple(int(c) for c in palette)] * num_classes
    colors = [tuple(int(c) for c in color) for color in palette]
    if len(colors) < num_classes:
        raise ValueError(f'the palette has {len(colors)} colours for {num_classes} classes')
    return colors


def adaptive_scales(areas: np.ndarray, min_area: float = 800, max_area: float = 30000) -> np.ndarray:
    """Label font scale per box: 0.5 for boxes under ``min_area`` px^2 up to 1.0 over ``max_area``."""
    return np.clip(0.5 + (np.asarray(areas, dtype=np.float64) - min_area) / (max_area - min_area), 0.5, 1.0)
