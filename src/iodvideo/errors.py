"""Errors that reach the user as one clear line instead of a stack trace.

Entry points catch :class:`IODVideoError` and print its message, so every subclass must say
which file or video is wrong and what to do about it.
"""


class IODVideoError(Exception):
    """Base class for user-facing errors (bad input, missing data, bad configuration)."""


class DatasetNotFoundError(IODVideoError):
    """The data root or its annotation pickle does not exist."""


class AnnotationError(IODVideoError):
    """An annotation pickle is unsafe, malformed or inconsistent."""


class FrameReadError(IODVideoError):
    """A frame file is missing or cannot be decoded."""


class ConfigError(IODVideoError):
    """A configuration value is invalid or asks for something that cannot work here."""
