"""Runtime fixes to mmengine/mmcv-lite, applied once by ``import ssd_npu``."""


def apply() -> None:
    """Apply every patch (idempotent)."""
