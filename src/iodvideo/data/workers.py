"""How DataLoader worker processes start.

Hydra's joblib launcher (``hydra/launcher=local``) runs each job in a loky worker, whose
default multiprocessing start method is ``"loky"``. Torch cannot start DataLoader workers with
it (a pickle error, then Lightning's "Please call `iter(combined_loader)` first"), so there the
loaders ask for ``fork`` — what Linux uses anyway outside joblib. Everywhere else the default
is left alone.
"""

from __future__ import annotations

import multiprocessing

STANDARD_METHODS = ("fork", "spawn", "forkserver")


def worker_start_method(num_workers: int) -> str | None:
    """The ``multiprocessing_context`` for a DataLoader with ``num_workers`` workers: None
    (Python's default) unless the process's default is a non-standard one such as loky's,
    then ``fork`` where the platform has it, else ``spawn``."""
    if num_workers <= 0:
        return None
    method = multiprocessing.get_start_method(allow_none=True)
    if method is None or method in STANDARD_METHODS:
        return None
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
