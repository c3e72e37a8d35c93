"""The detection visualizer (registered in ``VISUALIZERS``), colour palettes and training-log curves."""
from .local_visualizer import DetLocalVisualizer
from .log_curves import load_json_logs, plot_curves, train_time_stats
from .palette import adaptive_scales, get_palette

__all__ = ['DetLocalVisualizer', 'get_palette', 'adaptive_scales', 'load_json_logs', 'plot_curves',
           'train_time_stats']
