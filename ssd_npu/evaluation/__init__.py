"""Metrics (registered in ``METRICS``) and the numpy evaluation functions behind them."""
from .functional import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403
