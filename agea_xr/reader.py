"""Byte-range reads of whole experiments, and the lazily indexed array over them.

One experiment volume is one contiguous run of ``VOLUME_BYTES`` bytes at
``i * VOLUME_BYTES``; ``k`` consecutive experiments are one contiguous range.
:class:`ExperimentFile` reads such ranges from a local file (``os.pread``, no
memmap) or from any fsspec URL (one ranged request per run), and
:class:`ExpressionArray` exposes them to xarray as a lazily indexed
``BackendArray``. Both hold only a location and a few numbers, so a dataset
built on them pickles in a few kilobytes and every dask worker opens its own
file or connection.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from . import kernels
from .layout import GRID_SHAPE, RAW_DTYPE, VOLUME_BYTES
from .remote import is_url, read_range

__all__ = ["ExperimentFile", "ExpressionArray", "runs"]


def runs(indices: np.ndarray) -> Iterator[tuple[int, int]]:
    """Split sorted, unique integer indices into runs of consecutive values.

    Parameters
    ----------
    indices : numpy.ndarray
        Sorted unique non-negative integers.

    Yields
    ------
    tuple of int
        ``(start, stop)`` of each run, ``stop`` exclusive.

    Examples
    --------
    >>> list(runs(np.array([0, 1, 2, 5, 7, 8])))
    [(0, 3), (5, 6), (7, 9)]
    """
    if indices.size == 0:
        return
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [indices.size]])
    for a, b in zip(starts, stops, strict=True):
        yield int(indices[a]), int(indices[b - 1]) + 1


class ExperimentFile:
    """A raw AGEA binary, read by whole experiments.

    Parameters
    ----------
    location : str or os.PathLike
        Local path or fsspec URL of the binary (``gene-expression.bin``).
    n_experiments : int
        Number of volumes in the file (rows of the table).
    storage_options : mapping, optional
        Passed to ``fsspec.filesystem`` for URLs.

    Notes
    -----
    The object keeps no open file between reads of a local file, and opens its
    fsspec filesystem lazily in each process, so it pickles small.
    """

    def __init__(
        self,
        location: str | os.PathLike,
        n_experiments: int,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.location = str(location)
        self.n_experiments = int(n_experiments)
        self.storage_options = dict(storage_options or {})
        self._fs = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fs"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ExperimentFile({self.location!r}, n_experiments={self.n_experiments})"

    @property
    def nbytes(self) -> int:
        """Expected size of the file in bytes."""
        return self.n_experiments * VOLUME_BYTES

    def _filesystem(self):
        with self._lock:
            if self._fs is None:
                from .remote import filesystem

                fs, path = filesystem(self.location, self.storage_options)
                self._fs, self._path = fs, path
        return self._fs, self._path

    def read(self, start: int, stop: int) -> np.ndarray:
        """Read experiments ``start`` to ``stop`` (exclusive) as one byte range.

        Parameters
        ----------
        start, stop : int
            Experiment positions, ``0 <= start <= stop <= n_experiments``.

        Returns
        -------
        numpy.ndarray
            A new, writable float16 array of shape ``(stop - start, 58, 41, 67)``.

        Raises
        ------
        IndexError
            If the range lies outside the file.
        OSError
            If the file holds fewer bytes than the range needs.
        """
        if not 0 <= start <= stop <= self.n_experiments:
            raise IndexError(
                f"Experiments {start}:{stop} are outside {self.location!r}, which holds "
                f"{self.n_experiments} experiments."
            )
        offset, length = start * VOLUME_BYTES, (stop - start) * VOLUME_BYTES
        out = np.empty((stop - start, *GRID_SHAPE), dtype=RAW_DTYPE)
        if length == 0:
            return out
        if is_url(self.location):
            fs, path = self._filesystem()
            data = read_range(
                fs, path, offset, offset + length, url=self.location, options=self.storage_options
            )
            got = len(data)
            if got == length:
                out.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
        else:
            buffer = out.reshape(-1).view(np.uint8)
            got = 0
            with open(self.location, "rb", buffering=0) as f:
                f.seek(offset)
                while got < length:
                    n = f.readinto(memoryview(buffer)[got:])
                    if not n:
                        break
                    got += n
        if got != length:
            raise OSError(
                f"{self.location!r} ended early: experiments {start}:{stop} need bytes "
                f"{offset}..{offset + length}, but only {got} of {length} bytes were read. "
                "The file is truncated or was changed after opening; download it again."
            )
        return out


class ExpressionArray(BackendArray):
    """Lazily indexed ``(experiment, ml, dv, ap)`` expression values.

    Indexing reads only the experiments asked for, grouping consecutive ones
    into single byte ranges, then decodes float16 to float32 (NaN for ``-1``
    when ``mask``), or returns the raw float16 values when ``decode`` is False.

    Parameters
    ----------
    source : ExperimentFile
        Where the bytes are.
    decode : bool, default True
        Return float32 (True) or the stored float16 values (False).
    mask : bool, default True
        With ``decode``, replace ``-1`` by NaN.
    """

    def __init__(self, source: ExperimentFile, decode: bool = True, mask: bool = True) -> None:
        self.source = source
        self.decode = bool(decode)
        self.mask = bool(mask) and self.decode
        self.shape = (source.n_experiments, *GRID_SHAPE)
        self.dtype = np.dtype(np.float32) if self.decode else RAW_DTYPE

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._getitem
        )

    def _getitem(self, key: tuple) -> np.ndarray:
        first, rest = key[0], tuple(key[1:])
        n = self.shape[0]
        if isinstance(first, slice):
            start, stop, step = first.indices(n)
            if step == 1:
                block = self.source.read(start, max(start, stop))
                return self._finish(block[(slice(None), *rest)])
            wanted = np.arange(start, stop, step)
        elif isinstance(first, (int, np.integer)):
            i = int(first) + n if first < 0 else int(first)
            block = self.source.read(i, i + 1)[0]
            return self._finish(block[rest])
        else:
            wanted = np.asarray(first, dtype=np.int64)
            wanted = np.where(wanted < 0, wanted + n, wanted)
        unique, inverse = np.unique(wanted, return_inverse=True)
        parts = [self.source.read(a, b)[(slice(None), *rest)] for a, b in runs(unique)]
        if parts:
            block = np.concatenate(parts, axis=0)
        else:
            block = np.empty((0, *GRID_SHAPE), dtype=RAW_DTYPE)[(slice(None), *rest)]
        return self._finish(block[inverse.reshape(-1)])

    def _finish(self, raw: np.ndarray) -> np.ndarray:
        if self.decode:
            return kernels.decode(raw, mask=self.mask)
        return np.array(raw, order="C")  # an owned copy, 0-d stays 0-d
