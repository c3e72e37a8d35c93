"""``BaseDataPreprocessor.to('npu')`` without ``torch.npu.native_device``.

Fixes: mmengine 0.10.7's ``BaseDataPreprocessor.to`` rewrites a device string naming ``npu``
with ``torch.npu.native_device``, an attribute of torch_npu 1.x that no torch-npu 2.x has
(torch-npu 2.6.0.post5 and 2.14.0: torch_npu renames torch's ``privateuse1`` backend to
``npu``, so torch parses ``'npu:0'`` itself). ``data_preprocessor.to('npu')`` therefore raises
``AttributeError`` on every current Ascend host; ``BaseModel.to`` has its own fallback and is not
affected. The patched ``to`` rewrites the string only where ``native_device`` exists.
"""
import torch
from mmengine.model import BaseDataPreprocessor

from ._patching import key_of, replace_attribute

KEY = key_of(BaseDataPreprocessor, 'to')


def _native_npu_device(device: str) -> str:
    """``device`` with ``npu`` replaced by torch_npu 1.x's native device name, where it has one."""
    native = getattr(getattr(torch, 'npu', None), 'native_device', None)
    return device.replace('npu', native) if native and 'npu' in device else device


def data_preprocessor_to(self: BaseDataPreprocessor, *args, **kwargs) -> BaseDataPreprocessor:
    """``BaseDataPreprocessor.to``: remember the target device, then move buffers as ``nn.Module.to``."""
    if args and isinstance(args[0], str):
        args = (_native_npu_device(args[0]), *args[1:])
    if isinstance(kwargs.get('device'), str):
        kwargs['device'] = _native_npu_device(kwargs['device'])
    device = torch._C._nn._parse_to(*args, **kwargs)[0]
    if device is not None:
        self._device = torch.device(device)
    return torch.nn.Module.to(self, *args, **kwargs)


def patch() -> None:
    """Install :func:`data_preprocessor_to` as ``BaseDataPreprocessor.to``."""
    replace_attribute(BaseDataPreprocessor, 'to', data_preprocessor_to)
