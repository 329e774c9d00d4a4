"""Exceptions raised by catscope, all derived from :class:`CatscopeError`.

Every message names the file, object and row where it can, and says what would be accepted,
so that the CLI and the app can show it to a user as it is.
"""

from __future__ import annotations


class CatscopeError(Exception):
    """Base class of every error catscope raises on purpose."""


class InputError(CatscopeError, ValueError):
    """A user-supplied file or table cannot be read as light curves."""


class MissingColumnError(InputError):
    """A required column is absent; the message lists the names that were tried."""


class UnknownBandError(InputError):
    """A band name is not in the registry; the message lists known bands and how to map one."""


class InvalidValueError(InputError):
    """Values are non-numeric, non-finite, not positive where they must be, or duplicated."""


class FileTooLargeError(InputError):
    """An input file is over the configured size limit."""


class EmptyLightCurveError(InputError):
    """An object has no usable point left after validation."""


class ModelNotFoundError(CatscopeError, LookupError):
    """No shipped or local model has the requested name."""
