"""The error for bad arguments where mmdetection asserts.

mmdetection checks these arguments with ``assert`` (its tests expect ``AssertionError``); we
raise with a message that says what is wrong. The error is both a ``ValueError`` and an
``AssertionError``, so code written against either catches it.
"""


class InvalidArgumentError(ValueError, AssertionError):
    """An argument, or a combination of arguments, that mmdetection rejects with an assertion."""
