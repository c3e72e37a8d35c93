"""mmengine's ``get_device`` follows ssd_npu's device choice (``SSD_NPU_DEVICE``, then npu > cuda > cpu).

Why: ``Runner.wrap_model`` moves the model to ``mmengine.device.get_device()`` and
``Runner.resume`` maps the checkpoint there; mmengine's answer is fixed at import (the
first accelerator it finds). With this patch ``SSD_NPU_DEVICE=cpu`` (what ``--device cpu``
sets) trains on the CPU of a GPU host, and the model, the AMP wrapper, the DDP wrapper and
the distributed backend all agree on one device.
"""
from ._patching import replace_everywhere


def patch() -> None:
    """Put :func:`ssd_npu.utils.device.get_device` wherever mmengine bound its ``get_device``."""
    import mmengine.device.utils  # noqa: F401

    # Imported here, not at the top: ssd_npu's __init__ applies the patches, so a module-level
    # import would make `from mmcv_patches import device` re-enter this half-imported module.
    from ssd_npu.utils.device import get_device

    replace_everywhere('mmengine.device.utils', 'get_device', get_device)
