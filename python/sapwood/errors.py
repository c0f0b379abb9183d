"""sapwood's exceptions: every bad input raises a SapwoodError subclass naming what is wrong."""

from __future__ import annotations

__all__ = [
    "SapwoodError",
    "ParameterError",
    "DataError",
    "SchemaError",
    "ModelFormatError",
    "NotFittedError",
]


class SapwoodError(Exception):
    """Base class of every error sapwood raises on purpose."""


class ParameterError(SapwoodError, ValueError):
    """A parameter is unknown or has an invalid value."""


class DataError(SapwoodError, ValueError):
    """Input data cannot be used: wrong shape, dtype, labels or values."""


class SchemaError(DataError):
    """Input columns do not match the model's schema (a column is missing or misplaced)."""


class ModelFormatError(SapwoodError, ValueError):
    """A model file or model structure is malformed, truncated or of an unknown version."""


class NotFittedError(SapwoodError, AttributeError):
    """The estimator or booster has not been trained yet."""
