"""Errors that reach the user as one clear line instead of a stack trace.

Entry points catch :class:`IODVideoError` and print its message, so every subclass must say
which file or video is wrong and what to do about it.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager


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


def find_user_error(err: BaseException) -> IODVideoError | None:
    """The IODVideoError behind ``err``, if any: Hydra's ``instantiate`` and DataLoader
    workers wrap the exceptions they see, and the user should read the original message."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, IODVideoError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """For entry points: bad input ends the program with one ``error: ...`` line on stderr
    and exit status 2; anything else (a bug) keeps its traceback."""
    try:
        yield
    except Exception as err:
        user_error = find_user_error(err)
        if user_error is None:
            raise
        print(f"error: {user_message(user_error)}", file=sys.stderr)
        sys.exit(2)
