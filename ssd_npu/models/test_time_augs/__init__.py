from .det_tta import DetTTAModel  # noqa: F401
