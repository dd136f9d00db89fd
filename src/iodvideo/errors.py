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


def user_message(err: IODVideoError) -> str:
    """The message the user should read. An error raised in a DataLoader worker comes back
    re-raised as ``"Caught X in DataLoader worker process N. Original Traceback ..."``; the
    original one-line message is the last line of that text."""
    text = str(err)
    if text.startswith("Caught ") and "Original Traceback" in text:
        last = text.rstrip().splitlines()[-1]
        prefix = f"{type(err).__name__}: "
        return last.split(prefix, 1)[1] if prefix in last else last
    return text
