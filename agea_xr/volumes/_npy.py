"""Byte-range reads of ``.npy`` item volumes, and the lazily indexed array over them.

A volume file of the MERFISH or lipid release is a standard ``.npy`` file of
shape ``(items, 58, 41, 67)``, C order: item ``i`` is one contiguous run of
``159,326 * itemsize`` bytes after the header. :class:`ItemFile` parses the
header (numpy's own ``numpy.lib.format`` readers, from the first bytes only),
then reads runs of items from a local file or any fsspec URL (one ranged
request per run), in the style of :class:`agea_xr.reader.ExperimentFile`.
:class:`ItemArray` exposes them to xarray as a lazily indexed ``BackendArray``.

Nothing is ever unpickled: :func:`read_small_npy` reads label files with
``allow_pickle=False`` and refuses object arrays with a clear message.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib import format as npy_format
from xarray.backends import BackendArray
from xarray.core import indexing

from .. import layout
from ..reader import RangeFile, row_buffer, runs
from ..remote import is_url, read_range

__all__ = ["ItemArray", "ItemFile", "parse_header", "read_small_npy"]

#: Bytes read first to parse a header (numpy pads headers to 64 bytes; 128 is usual).
_HEAD = 4096


def parse_header(head: bytes, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` file from its first bytes.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (at least the whole header).
    where : str
        The file, named in messages.

    Returns
    -------
    shape : tuple of int
    dtype : numpy.dtype
    offset : int
        Byte offset of the first item.

    Raises
    ------
    ValueError
        If the bytes are not a ``.npy`` header, the array is Fortran ordered, or
        holds Python objects (which would need unpickling: refused).

    Examples
    --------
    >>> buf = io.BytesIO()
    >>> np.save(buf, np.zeros((2, 3), dtype="<f2"))
    >>> parse_header(buf.getvalue(), "x.npy")
    ((2, 3), dtype('float16'), 128)
    """
    f = io.BytesIO(head)
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
    except (ValueError, EOFError, SyntaxError) as err:
        raise ValueError(
            f"Cannot read {where!r} as a .npy file ({err}): the file is damaged, incomplete "
            "or not a volume of the release. Download it again."
        ) from err
    if dtype.hasobject:
        raise ValueError(
            f"{where!r} holds Python objects (dtype {dtype}), which only unpickling could "
            "read; agea-xr never unpickles. The release's volumes are float arrays: "
            "replace the file with the published one."
        )
    if fortran:
        raise ValueError(
            f"{where!r} is stored in Fortran order; the release's volumes are C order "
            "(one item after another). Replace the file with the published one."
        )
    return tuple(int(n) for n in shape), dtype, f.tell()


def read_small_npy(data: bytes, where: str) -> np.ndarray:
    """A small ``.npy`` file (type ids) read with ``allow_pickle=False``.

    Parameters
    ----------
    data : bytes
        The whole file.
    where : str
        The file, named in messages.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        For an object array (refused: it would need unpickling) or a damaged file.
    """
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ValueError(
                f"{where!r} is an object array, which only unpickling could read; agea-xr "
                "never unpickles. The published file holds integer type ids: replace it "
                "with it (or re-save yours as integers: np.save(path, ids.astype('int64')))."
            ) from err
        raise ValueError(f"Cannot read {where!r} as a .npy array ({err}).") from err
    except (EOFError, OSError) as err:
        raise ValueError(
            f"Cannot read {where!r} as a .npy array ({err or 'it is empty'}): download it again."
        ) from err


class ItemFile(RangeFile):
    """A ``.npy`` volume file ``(items, ml, dv, ap)``, read by whole items.

    Parameters
    ----------
    location : str or os.PathLike
        Local path or fsspec URL of the file.
    storage_options : mapping, optional
        Passed to fsspec for URLs.

    Attributes
    ----------
    shape : tuple of int
        ``(items, 58, 41, 67)``.
    dtype : numpy.dtype
        The stored dtype.
    offset : int
        Byte offset of item 0 (the header length).

    Raises
    ------
    ValueError
        At construction, for a header that is not a C-order numeric ``.npy`` array
        on the AGEA grid, or a file shorter than its header says.

    Notes
    -----
    Opening reads only the first 4 kB (the header) and the file's size; no open
    file or connection is kept, so the object pickles small.
    """

    def __init__(
        self, location: str | os.PathLike, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(location, storage_options)
        head, size = self._head()
        shape, dtype, offset = parse_header(head, self.location)
        if len(shape) != 4 or shape[1:] != layout.GRID_SHAPE:
            raise ValueError(
                f"{self.location!r} has shape {shape}; a volume of items on the AGEA grid is "
                f"(items, {', '.join(map(str, layout.GRID_SHAPE))}) (ml, dv, ap)."
            )
        self.shape, self.dtype, self.offset = shape, dtype, offset
        expected = offset + int(np.prod(shape)) * dtype.itemsize
        if size < expected:
            raise ValueError(
                f"{self.location!r} has {size:,} bytes, its header announces {shape[0]:,} "
                f"items needing {expected:,}: the download is incomplete. Download it again."
            )

    def __repr__(self) -> str:
        return f"ItemFile({self.location!r}, shape={self.shape}, dtype={self.dtype})"

    @property
    def item_bytes(self) -> int:
        """Bytes of one item volume (159,326 voxels times the itemsize)."""
        return layout.VOXELS_PER_VOLUME * self.dtype.itemsize

    def _head(self) -> tuple[bytes, int]:
        if not is_url(self.location):
            with open(self.location, "rb") as f:
                return f.read(_HEAD), os.fstat(f.fileno()).st_size
        fs, path = self._filesystem()
        size = int(fs.size(path))
        head = read_range(
            fs, path, 0, min(_HEAD, size), url=self.location, options=self.storage_options
        )
        return head, size

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Items ``start`` to ``stop`` (exclusive) as one byte range.

        ``out``, optional: a C-contiguous buffer of the stored dtype and
        ``(stop - start) * 159,326`` values to fill instead of a new array.

        Returns
        -------
        numpy.ndarray
            A new (or ``out``'s) array of the stored dtype, ``(stop - start, 58, 41, 67)``.

        Raises
        ------
        IndexError
            If the range lies outside the file.
        OSError
            If the file ends early.
        """
        n = self.shape[0]
        if not 0 <= start <= stop <= n:
            raise IndexError(f"Items {start}:{stop} are outside {self.location!r} ({n} items).")
        out = row_buffer(out, stop - start, self.dtype)
        return self.read_into(self.offset + start * self.item_bytes, out, f"items {start}:{stop}")


class ItemArray(BackendArray):
    """Lazily indexed ``(item, ml, dv, ap)`` values of an :class:`ItemFile`, as stored.

    Indexing reads only the items asked for, consecutive ones as one byte range.
    """

    def __init__(self, source: ItemFile) -> None:
        self.source = source
        self.shape = source.shape
        self.dtype = source.dtype

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
                return self.source.read(start, max(start, stop))[(slice(None), *rest)]
            wanted = np.arange(start, stop, step)
        elif isinstance(first, (int, np.integer)):
            i = int(first) + n if first < 0 else int(first)
            return np.array(self.source.read(i, i + 1)[0][rest])
        else:
            wanted = np.asarray(first, dtype=np.int64)
            wanted = np.where(wanted < 0, wanted + n, wanted)
        unique, inverse = np.unique(wanted, return_inverse=True)
        parts = [self.source.read(a, b)[(slice(None), *rest)] for a, b in runs(unique)]
        if not parts:
            empty = np.empty((0, *layout.GRID_SHAPE), dtype=self.dtype)
            return empty[(slice(None), *rest)]
        return np.concatenate(parts, axis=0)[inverse.reshape(-1)]
