"""mmengine's ``get_device`` answers what the application chose, not what mmengine found at import.

Why: ``Runner.wrap_model`` moves the model to ``mmengine.device.get_device()`` and
``Runner.resume`` maps the checkpoint there; mmengine's answer is fixed when it is imported
(the first accelerator it finds), so a CPU run on a GPU host is impossible. The application
hands :func:`patch` its own device choice (a function that honours its ``--device`` flag); the
model, the AMP wrapper, the DDP wrapper and the distributed
backend then agree on one device.
"""
from typing import Callable

from ._patching import replace_everywhere

KEY = 'mmengine.device.utils.get_device'


def patch(get_device: Callable[[], str]) -> None:
    """Put ``get_device`` (no arguments, returns ``'npu'``/``'cuda'``/``'cpu'``...) wherever mmengine
    bound its ``get_device``."""
    import mmengine.device.utils  # noqa: F401

    replace_everywhere('mmengine.device.utils', 'get_device', get_device)
