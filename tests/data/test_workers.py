"""DataLoader workers start inside Hydra's joblib (loky) jobs, and nowhere else is the start
method touched."""

import multiprocessing

import pytest
import torch
from joblib import Parallel, delayed
from torch.utils.data import DataLoader

from iodvideo.data import workers
from iodvideo.data.workers import worker_start_method


def test_python_default_is_kept_where_it_is_a_standard_method(monkeypatch):
    for method in ("fork", "spawn", "forkserver", None):
        monkeypatch.setattr(multiprocessing, "get_start_method",
                            lambda allow_none=False, m=method: m)
        assert worker_start_method(2) is None
    assert worker_start_method(0) is None  # no workers, nothing to start


def test_inside_a_loky_worker_the_loaders_fork(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "loky")
    assert worker_start_method(2) == "fork"
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert worker_start_method(2) == "spawn"


def _sum_through_workers(num_workers: int) -> int:
    data = torch.arange(8)
    loader = DataLoader(data, batch_size=4, num_workers=num_workers,
                        multiprocessing_context=workers.worker_start_method(num_workers))
    return int(sum(batch.sum() for batch in loader))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
def test_a_loader_with_workers_runs_in_a_joblib_job():
    # what `hydra/launcher=local` does with each training job; loky's own start method fails
    sums = Parallel(n_jobs=2, backend="loky")(delayed(_sum_through_workers)(1) for _ in range(2))
    assert sums == [28, 28]
