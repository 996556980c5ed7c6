"""Files of named numpy arrays: a magic line, a JSON header, then each array raw and 64-byte aligned.

Readers can memory-map every array (nothing is parsed but the header) and no pickle is ever
involved, so a file from elsewhere can be opened without running its contents.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

ALIGN = 64
Spec = tuple[DTypeLike, tuple[int, ...]]  # an array's dtype (or what np.dtype takes) and shape


def _padded(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _layout(magic: bytes, header: dict, specs: dict[str, Spec]) -> tuple[bytes, list[dict], int, int]:
    """(the file's first bytes, the layout, where the arrays start, the file's size)."""
    layout, pos = [], 0
    for name, (dtype_like, shape) in specs.items():
        dtype = np.dtype(dtype_like)
        layout.append({"name": name, "dtype": dtype.str, "shape": [int(s) for s in shape], "at": pos})
        pos += _padded(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    head = json.dumps({**header, "arrays": layout}).encode()
    start = _padded(len(magic) + 8 + len(head))
    return magic + len(head).to_bytes(8, "little") + head, layout, start, start + pos


def write_arrays(path: str | Path, magic: bytes, header: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` under `header` (any JSON-able dict; its "arrays" key is the layout)."""
    parts = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    first, layout, start, size = _layout(magic, header, {name: (a.dtype, a.shape) for name, a in parts.items()})
    with open(path, "wb") as f:
        f.write(first)
        f.write(b"\0" * (start - f.tell()))
        for a, spec in zip(parts.values(), layout):
            f.seek(start + spec["at"])
            f.write(a.tobytes())
        f.truncate(size)


def reserve_arrays(path: str | Path, magic: bytes, header: dict, specs: dict[str, Spec]) -> dict[str, int]:
    """Write the header of a file of arrays whose dtypes and shapes are known but whose contents
    come later (written in place, piece by piece, at the returned byte positions): the file
    `write_arrays` would write for the same arrays, once they are filled in."""
    first, layout, start, size = _layout(magic, header, specs)
    with open(path, "wb") as f:
        f.write(first)
        f.truncate(size)  # unwritten bytes read as zeros, as write_arrays' padding
    return {spec["name"]: start + spec["at"] for spec in layout}


def has_magic(path: str | Path, magic: bytes) -> bool:
    with open(path, "rb") as f:
        return f.read(len(magic)) == magic


def read_at_random(*arrays: np.ndarray) -> None:
    """Tell the kernel that these memory-mapped arrays are read at scattered places (no
    readahead around a page it reads from disk). Visual words read a few kilobytes of each
    short-listed frame's descriptors: from a 1.8 M-frame file not in the page cache, the captioned
    60-s copy's search read 14.1 GB with readahead and 2.5 GB without, in less time (2026-11-26, d115ec6).
    Arrays held in memory, and systems without madvise, are left as they are."""
    import mmap

    for arr in arrays:
        mapped = getattr(arr, "_mmap", None)  # numpy.memmap's own mapping of the file
        if mapped is not None and hasattr(mmap, "MADV_RANDOM"):
            mapped.madvise(mmap.MADV_RANDOM)


def read_arrays(path: str | Path, magic: bytes, mmap: bool = False) -> tuple[dict, list[tuple[dict, np.ndarray]]]:
    """(header, [(layout entry, array), ...]); with `mmap`, arrays map the file read-only."""
    with open(path, "rb") as f:
        if f.read(len(magic)) != magic:
            raise ValueError(f"not a {magic.decode().strip()} file")
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    start = _padded(len(magic) + 8 + n)
    raw = b"" if mmap else Path(path).read_bytes()  # (mapped arrays do not read it)
    out = []
    for spec in header["arrays"]:
        dtype, shape, at = np.dtype(spec["dtype"]), tuple(spec["shape"]), start + spec["at"]
        count = int(np.prod(shape))
        if not count:
            arr = np.zeros(shape, dtype)
        elif mmap:
            arr = np.memmap(path, dtype=dtype, mode="r", offset=at, shape=shape)
        else:
            arr = np.frombuffer(raw, dtype=dtype, count=count, offset=at).reshape(shape).copy()
        out.append((spec, arr))
    return header, out
