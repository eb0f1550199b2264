"""Per-chunk compute kernels: float16 decoding and the reductions of the analyses.

numpy converts float16 to float32 at under 1 GB/s; reading the half-precision
bits as ``uint16`` and looking each one up in a 65,536-entry float32 table is
the same conversion (bit for bit, NaN for the ``-1`` sentinel when masking),
and compiled with numba it runs about three times faster. numba is optional
(the ``fast`` extra): without it the same table is applied with numpy fancy
indexing, which gives identical results.

The reduction kernels (:func:`segment_sums`, :func:`segment_medians`,
:func:`seed_moments`) work on one chunk of experiments, shape
``(experiments, voxels)``, given either as raw ``uint16`` bits plus a decode
table (NaN entries are "no measurement") or as decoded floats (NaN = no
measurement). They accumulate in float64, in a fixed order (experiment by
experiment, voxel by voxel in the order given), so the compiled kernel and
its numpy fallback give identical results. The analyses
(:mod:`agea_xr.analysis`) map them over the dask chunks.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ._choices import check_choice
from .layout import MISSING, RAW_DTYPE

__all__ = [
    "decode",
    "decode_table",
    "have_numba",
    "seed_moments",
    "segment_medians",
    "segment_sums",
    "segments",
]

#: Names of the rows of :func:`segment_sums` (axis 1).
SUM_FIELDS = ("count", "sum", "sum_sq")
#: Names of the rows of :func:`seed_moments` (axis 0).
MOMENT_FIELDS = ("n", "sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy", "n_x")
#: Voxels per tile of the seed kernel: its seven float64 accumulators stay in L1 cache.
_TILE = 256


@functools.cache
def decode_table(mask: bool) -> np.ndarray:
    """The float16 -> float32 lookup table, indexed by the raw uint16 bits.

    Parameters
    ----------
    mask : bool
        If True the entry of ``-1.0`` (the "no measurement" sentinel) is NaN.

    Returns
    -------
    numpy.ndarray
        A read-only float32 array of 65,536 entries.
    """
    table = np.arange(65536, dtype=np.uint16).view(RAW_DTYPE).astype(np.float32)
    if mask:
        table[np.array(MISSING, dtype=RAW_DTYPE).view(np.uint16)] = np.nan
    table.flags.writeable = False
    return table


@functools.cache
def _numba_decoder():
    if os.environ.get("AGEA_XR_DISABLE_NUMBA"):
        return None
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def _decode(bits, table, out):  # pragma: no cover - compiled
        for i in range(bits.size):
            out[i] = table[bits[i]]

    return _decode


def have_numba() -> bool:
    """Whether the compiled kernels are available (numba is installed and enabled).

    Returns
    -------
    bool
    """
    return _numba_decoder() is not None


def decode(raw: np.ndarray, mask: bool = True) -> np.ndarray:
    """Decode raw float16 expression values to float32.

    Parameters
    ----------
    raw : numpy.ndarray
        Values of dtype float16 (any shape).
    mask : bool, default True
        Replace the ``-1`` sentinel by NaN. Use False for the processed variant,
        whose values may legitimately be negative.

    Returns
    -------
    numpy.ndarray
        A new float32 array of the same shape.

    Examples
    --------
    >>> decode(np.array([-1, 0, 2.5], dtype="float16"))
    array([nan, 0. , 2.5], dtype=float32)
    """
    shape = np.shape(raw)  # ascontiguousarray makes 0-d arrays 1-d
    bits = np.ascontiguousarray(raw, dtype=RAW_DTYPE).view(np.uint16).reshape(-1)
    table = decode_table(mask)
    kernel = _numba_decoder()
    if kernel is None:
        return table[bits].reshape(shape)
    out = np.empty(shape, dtype=np.float32)
    kernel(bits, table, out.reshape(-1))
    return out


# --- reductions over chunks of experiments -----------------------------------------
def segments(codes: np.ndarray, n_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Group voxels by an integer code: the voxel order and bounds the kernels take.

    Parameters
    ----------
    codes : numpy.ndarray
        One integer per voxel (flattened in C order): ``0 .. n_segments - 1``, or
        a negative value for voxels to leave out.
    n_segments : int
        Number of segments (regions).

    Returns
    -------
    perm : numpy.ndarray
        int64 voxel indices sorted by code, stably (voxel order within a segment).
    bounds : numpy.ndarray
        int64, ``n_segments + 1`` entries: segment ``r`` is
        ``perm[bounds[r]:bounds[r + 1]]``.

    Raises
    ------
    ValueError
        If a code is ``>= n_segments``.

    Examples
    --------
    >>> perm, bounds = segments(np.array([1, -1, 0, 1]), 2)
    >>> perm.tolist(), bounds.tolist()
    ([2, 0, 3], [0, 1, 3])
    """
    codes = np.asarray(codes).reshape(-1)
    if codes.size and codes.max(initial=-1) >= n_segments:
        raise ValueError(
            f"Segment codes go up to {int(codes.max())}, but n_segments is {n_segments}: "
            "codes must lie in 0..n_segments - 1 (negative to leave a voxel out)."
        )
    inside = np.flatnonzero(codes >= 0)
    perm = inside[np.argsort(codes[inside], kind="stable")].astype(np.int64)
    bounds = np.searchsorted(codes[perm], np.arange(n_segments + 1), side="left")
    return perm, bounds.astype(np.int64)


def _check_block(block: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    block = np.asarray(block)
    if block.ndim != 2:
        raise ValueError(
            f"A chunk must be 2-D (experiments, voxels), got shape {block.shape}: reshape "
            "it with block.reshape(len(block), -1)."
        )
    if block.dtype == np.uint16:
        if table is None:
            raise ValueError(
                "Raw uint16 bits need the decode table: pass table=decode_table(mask)."
            )
    elif block.dtype.kind != "f":
        raise TypeError(
            f"A chunk must hold float values (NaN = no measurement) or raw float16 bits as "
            f"uint16, got dtype {block.dtype}."
        )
    return np.ascontiguousarray(block)


def _values(block: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """Decoded float64 values of a checked chunk (the numpy fallbacks)."""
    if block.dtype == np.uint16:
        return table[block].astype(np.float64)
    return block.astype(np.float64)


def _use_numba(engine: str) -> bool:
    if engine not in ("auto", "numba", "numpy"):
        check_choice(engine, ("auto", "numba", "numpy"), "engine")
    if engine == "numpy":
        return False
    available = _numba_kernels() is not None
    if engine == "numba" and not available:
        raise ImportError(
            "The numba kernels are not available (numba is not installed, or "
            "AGEA_XR_DISABLE_NUMBA is set): install the 'fast' extra "
            "(pip install 'agea-xr[fast]') or use engine='numpy'."
        )
    return available


def _table_arg(table: np.ndarray | None) -> np.ndarray:
    return np.empty(0, dtype=np.float32) if table is None else table


def segment_sums(
    block: np.ndarray,
    perm: np.ndarray,
    bounds: np.ndarray,
    table: np.ndarray | None = None,
    *,
    engine: str = "auto",
) -> np.ndarray:
    """Count, sum and sum of squares of the measured values of every segment.

    Parameters
    ----------
    block : numpy.ndarray
        ``(experiments, voxels)``: raw float16 bits as uint16 (with ``table``),
        or float values with NaN for "no measurement".
    perm, bounds : numpy.ndarray
        Segments, as returned by :func:`segments`.
    table : numpy.ndarray, optional
        The decode table (:func:`decode_table`) for uint16 bits.
    engine : {"auto", "numba", "numpy"}, default "auto"
        The compiled kernel when available, or the numpy fallback (identical results).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(experiments, 3, segments)``: rows ``count``, ``sum``,
        ``sum_sq`` (:data:`SUM_FIELDS`). Missing values are never counted.

    Examples
    --------
    >>> block = np.array([[1.0, np.nan, 3.0]], dtype=np.float32)
    >>> segment_sums(block, *segments(np.array([0, 0, 0]), 1))[0, :, 0].tolist()
    [2.0, 4.0, 10.0]
    """
    block = _check_block(block, table)
    perm = np.ascontiguousarray(perm, dtype=np.int64)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    k, n_seg = block.shape[0], bounds.size - 1
    if _use_numba(engine):
        out = np.zeros((3, k, n_seg), dtype=np.float64)
        _numba_kernels().segment_sums(block, _table_arg(table), perm, bounds, out)
        return out.transpose(1, 0, 2).copy()
    x = _values(block, table)[:, perm]
    measured = ~np.isnan(x)
    x = np.where(measured, x, 0.0)
    segment = np.repeat(np.arange(n_seg), np.diff(bounds))
    bins = (np.arange(k)[:, None] * n_seg + segment[None, :]).reshape(-1)
    size = k * n_seg
    out = np.empty((k, 3, n_seg), dtype=np.float64)
    for i, weights in enumerate((measured.astype(np.float64), x, x * x)):
        out[:, i, :] = np.bincount(bins, weights=weights.reshape(-1), minlength=size).reshape(
            k, n_seg
        )
    return out


def segment_medians(
    block: np.ndarray,
    perm: np.ndarray,
    bounds: np.ndarray,
    table: np.ndarray | None = None,
    *,
    engine: str = "auto",
) -> np.ndarray:
    """Median of the measured values of every segment, per experiment.

    Needs a sort of each segment's values (``O(n log n)``), where the sums need
    one pass: expect a few times the cost of :func:`segment_sums`.

    Parameters
    ----------
    block, perm, bounds, table, engine
        As for :func:`segment_sums`.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(experiments, segments)``; NaN where a segment has no
        measured value. The median of an even count is the mean of the two middle
        values.

    Examples
    --------
    >>> block = np.array([[4.0, np.nan, 1.0, 2.0]], dtype=np.float32)
    >>> segment_medians(block, *segments(np.array([0, 0, 0, 0]), 1)).tolist()
    [[2.0]]
    """
    block = _check_block(block, table)
    perm = np.ascontiguousarray(perm, dtype=np.int64)
    bounds = np.ascontiguousarray(bounds, dtype=np.int64)
    k, n_seg = block.shape[0], bounds.size - 1
    out = np.full((k, n_seg), np.nan, dtype=np.float64)
    if _use_numba(engine):
        _numba_kernels().segment_medians(block, _table_arg(table), perm, bounds, out)
        return out
    values = _values(block, table)
    rows = np.arange(k)
    for r in range(n_seg):
        x = np.sort(values[:, perm[bounds[r] : bounds[r + 1]]], axis=1)  # NaN sorts last
        n = (~np.isnan(x)).sum(axis=1)
        ok = n > 0
        lo, hi = np.maximum((n - 1) // 2, 0), np.maximum(n // 2, 0)
        if x.shape[1]:
            out[ok, r] = (x[rows[ok], lo[ok]] + x[rows[ok], hi[ok]]) / 2.0
    return out


def seed_moments(
    block: np.ndarray,
    seed: np.ndarray,
    table: np.ndarray | None = None,
    *,
    engine: str = "auto",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Sums for the Pearson correlation of every voxel with a seed profile.

    For every voxel, over the experiments of the chunk where both the voxel and
    the seed are measured: the count and the sums of x, y, x², y² and xy (x the
    voxel's value, y the seed's). Also the number of experiments where the voxel
    is measured, whatever the seed (to tell why a map is empty, and where a
    better-measured seed lies).

    Parameters
    ----------
    block, table, engine
        As for :func:`segment_sums`.
    seed : numpy.ndarray
        The seed's value in each experiment of the chunk (NaN where not measured).
    out : numpy.ndarray, optional
        C-contiguous float64 ``(7, voxels)`` sums to add this chunk's into, in
        place (the sums of several chunks, accumulated experiment after experiment).

    Returns
    -------
    numpy.ndarray
        float64, shape ``(7, voxels)`` (``out`` when given): rows ``n``, ``sum_x``,
        ``sum_y``, ``sum_xx``, ``sum_yy``, ``sum_xy``, ``n_x`` (:data:`MOMENT_FIELDS`).
        Chunks add up.

    Raises
    ------
    ValueError
        If ``seed`` does not have one value per experiment.

    Examples
    --------
    >>> block = np.array([[1.0, 2.0], [3.0, np.nan]], dtype=np.float32)
    >>> seed_moments(block, np.array([1.0, 2.0]))[:, 1].tolist()
    [1.0, 2.0, 1.0, 4.0, 1.0, 2.0, 1.0]
    """
    block = _check_block(block, table)
    seed = np.ascontiguousarray(seed, dtype=np.float64).reshape(-1)
    if seed.size != block.shape[0]:
        raise ValueError(
            f"The seed profile has {seed.size} values for a chunk of {block.shape[0]} "
            "experiments: give one value per experiment."
        )
    shape = (len(MOMENT_FIELDS), block.shape[1])
    if out is None:
        out = np.zeros(shape, dtype=np.float64)
    elif out.shape != shape or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float64 array of shape {shape}.")
    if _use_numba(engine):
        _numba_kernels().seed_moments(block, _table_arg(table), seed, out)
        return out
    n, sx, sy, sxx, syy, sxy, nx = out
    for e in range(block.shape[0]):
        y = seed[e]
        x = _values(block[e : e + 1], table)[0]
        measured = ~np.isnan(x)
        nx += measured
        ok = measured & (y == y)
        xs = np.where(ok, x, 0.0)
        ys = np.where(ok, y, 0.0)
        n += ok
        sx += xs
        sy += ys
        sxx += xs * xs
        syy += ys * ys
        sxy += xs * ys
    return out


def _load(row, p, table):  # pragma: no cover - replaced by the numba overload
    raise NotImplementedError


@functools.cache
def _numba_kernels():
    """The compiled reduction kernels, or None without numba (or when disabled)."""
    if _numba_decoder() is None:
        return None
    import types

    import numba
    from numba.core import types as nbtypes
    from numba.extending import overload

    @overload(_load, inline="always")
    def _load_impl(row, p, table):  # pragma: no cover - compiled
        if row.dtype == nbtypes.uint16:
            return lambda row, p, table: np.float64(table[row[p]])
        return lambda row, p, table: np.float64(row[p])

    @numba.njit(nogil=True, cache=True)
    def _segment_sums(data, table, perm, bounds, out):  # pragma: no cover - compiled
        # four experiments at a time: four independent add chains per segment,
        # each accumulated in perm order from 0.0 (the order of the numpy fallback)
        k = data.shape[0]
        n_seg = bounds.size - 1
        e = 0
        while e + 4 <= k:
            r0, r1, r2, r3 = data[e], data[e + 1], data[e + 2], data[e + 3]
            for r in range(n_seg):
                c0 = c1 = c2 = c3 = 0.0
                s0 = s1 = s2 = s3 = 0.0
                q0 = q1 = q2 = q3 = 0.0
                for j in range(bounds[r], bounds[r + 1]):
                    p = perm[j]
                    x = _load(r0, p, table)
                    ok = x == x
                    c0 += 1.0 if ok else 0.0
                    s0 += x if ok else 0.0
                    q0 += x * x if ok else 0.0
                    x = _load(r1, p, table)
                    ok = x == x
                    c1 += 1.0 if ok else 0.0
                    s1 += x if ok else 0.0
                    q1 += x * x if ok else 0.0
                    x = _load(r2, p, table)
                    ok = x == x
                    c2 += 1.0 if ok else 0.0
                    s2 += x if ok else 0.0
                    q2 += x * x if ok else 0.0
                    x = _load(r3, p, table)
                    ok = x == x
                    c3 += 1.0 if ok else 0.0
                    s3 += x if ok else 0.0
                    q3 += x * x if ok else 0.0
                out[0, e, r], out[1, e, r], out[2, e, r] = c0, s0, q0
                out[0, e + 1, r], out[1, e + 1, r], out[2, e + 1, r] = c1, s1, q1
                out[0, e + 2, r], out[1, e + 2, r], out[2, e + 2, r] = c2, s2, q2
                out[0, e + 3, r], out[1, e + 3, r], out[2, e + 3, r] = c3, s3, q3
            e += 4
        while e < k:
            row = data[e]
            for r in range(n_seg):
                c = s = q = 0.0
                for j in range(bounds[r], bounds[r + 1]):
                    x = _load(row, perm[j], table)
                    ok = x == x
                    c += 1.0 if ok else 0.0
                    s += x if ok else 0.0
                    q += x * x if ok else 0.0
                out[0, e, r], out[1, e, r], out[2, e, r] = c, s, q
            e += 1

    @numba.njit(nogil=True, cache=True)
    def _segment_medians(data, table, perm, bounds, out):  # pragma: no cover - compiled
        k = data.shape[0]
        longest = 0
        for r in range(bounds.size - 1):
            longest = max(longest, bounds[r + 1] - bounds[r])
        buf = np.empty(longest, dtype=np.float64)
        for e in range(k):
            row = data[e]
            for r in range(bounds.size - 1):
                n = 0
                for j in range(bounds[r], bounds[r + 1]):
                    x = _load(row, perm[j], table)
                    if x == x:
                        buf[n] = x
                        n += 1
                if n == 0:
                    continue
                # quickselect of the lower middle value in place: every later one is >= it
                want = (n - 1) // 2
                lo, hi = 0, n - 1
                while hi > lo:
                    pivot = buf[(lo + hi) // 2]
                    i, j = lo, hi
                    while i <= j:
                        while buf[i] < pivot:
                            i += 1
                        while buf[j] > pivot:
                            j -= 1
                        if i <= j:
                            buf[i], buf[j] = buf[j], buf[i]
                            i += 1
                            j -= 1
                    if want <= j:
                        hi = j
                    elif want >= i:
                        lo = i
                    else:
                        break
                low = buf[want]
                high = buf[want + 1 : n].min() if n % 2 == 0 else low
                out[e, r] = (low + high) / 2.0

    @numba.njit(nogil=True, cache=True)
    def _seed_moments(data, table, seed, out):  # pragma: no cover - compiled
        # a tile's seven sums stay in L1 cache over the chunk's experiments; a decoded
        # tile row lets the sums vectorise; experiment after experiment (numpy's order)
        k, n_vox = data.shape
        xs = np.empty(_TILE, dtype=np.float64)
        oks = np.empty(_TILE, dtype=np.float64)
        acc = np.empty((len(MOMENT_FIELDS), _TILE), dtype=np.float64)
        for v0 in range(0, n_vox, _TILE):
            m = min(_TILE, n_vox - v0)
            acc[:, :m] = out[:, v0 : v0 + m]
            n, sx, sy, sxx, syy, sxy, nx = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6]
            for e in range(k):
                y = seed[e]
                row = data[e]
                if y != y:  # the seed is not measured: only count the voxels' measurements
                    for i in range(m):
                        x = _load(row, v0 + i, table)
                        nx[i] += 1.0 if x == x else 0.0
                    continue
                for i in range(m):
                    x = _load(row, v0 + i, table)
                    ok = x == x
                    xs[i] = x if ok else 0.0
                    oks[i] = 1.0 if ok else 0.0
                yy = y * y
                for i in range(m):
                    o = oks[i]
                    x = xs[i]
                    n[i] += o
                    sx[i] += x
                    sy[i] += o * y
                    sxx[i] += x * x
                    syy[i] += o * yy
                    sxy[i] += x * y
                    nx[i] += o
            out[:, v0 : v0 + m] = acc[:, :m]

    return types.SimpleNamespace(
        segment_sums=_segment_sums,
        segment_medians=_segment_medians,
        seed_moments=_seed_moments,
    )
