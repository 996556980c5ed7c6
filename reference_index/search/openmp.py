"""FAISS, loaded with its OpenMP threads told to sleep when they have nothing to do.

OpenMP threads spin while they wait for work by default. On a machine whose cores are busy with
anything else (decoding, a second scan worker, another user's job) spinning threads take turns
with the thread they wait for: one small search of 279 PDQ hashes took 1.8 s instead of
0.015 s, an ORB search ten times its time. Sleeping threads wake a little later, which only
matters to searches far smaller than a clip's. OpenMP reads the policy once, when the library
loads, so it is set here, in the one module every part of the project loads FAISS through
(`from reference_index.search import faiss`); a user's own setting wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss

__all__ = ["faiss"]
