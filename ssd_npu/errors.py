"""Every error the product raises on purpose, in one place.

Each says what went wrong and what to do; the command line (``ssd_npu.cli.friendly_errors``)
prints their messages without a traceback when they happen before training starts.
``UnsafeCheckpointError`` and ``CheckpointDownloadError`` come from ``mmcv_patches``, which
raises them from mmengine's checkpoint loader and sits below this package.
"""
from mmcv_patches.checkpoint import CheckpointDownloadError, UnsafeCheckpointError


class UsageError(ValueError):
    """A command-line or config mistake whose message already says what to do."""


class InvalidArgumentError(ValueError, AssertionError):
    """An argument, or a combination of arguments, that mmdetection rejects with an assertion.

    mmdetection checks these arguments with ``assert`` (its tests expect ``AssertionError``); we
    raise with a message that says what is wrong, so code written against either catches it.
    """


class NonFiniteLossError(RuntimeError):
    """Raised after too many consecutive non-finite losses."""


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written; what is on disk is still the previous one."""


__all__ = ['CheckpointDownloadError', 'CheckpointWriteError', 'InvalidArgumentError', 'NonFiniteLossError',
           'UnsafeCheckpointError', 'UsageError']
