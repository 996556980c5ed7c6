"""FAISS's threads for many small searches."""

from __future__ import annotations

from contextlib import contextmanager

from .openmp import faiss


@contextmanager
def one_thread():
    """Many small FAISS searches run faster on one thread: OpenMP's start-up and, beside other
    busy processes, its waiting cost more than the search (ten times, measured on 2 cores)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
