"""Thread caps for the index stages, where torch, FAISS, numba and BLAS share the cores.

torch, FAISS (its own OpenMP runtime and OpenBLAS), numpy/scipy (OpenBLAS) and numba each
start one thread per core. Run one after another in a process they oversubscribe the cores
(idle pools keep spinning); on 2 shared cores a GMM fit was measured 10-30x and an HNSW build
5x slower with the default 2 threads than with 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def thread_cap(threads: int | None) -> Iterator[None]:
    """Cap every loaded BLAS and OpenMP pool at ``threads`` inside the block (``None``: no cap)."""
    if threads is None:
        yield
        return
    if threads < 1:
        msg = f"threads must be at least 1 or None, got {threads}"
        raise ValueError(msg)
    with threadpool_limits(limits=threads):
        yield
