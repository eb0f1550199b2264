"""Per-chunk kernel of map-vs-experiment correlations: masked pairwise Pearson sums.

For a chunk of experiments ``(experiments, voxels)`` and a set of query maps
over selected voxels, :func:`pairwise_sums` returns, for every experiment and
query, over the voxels measured in both: the count and the sums of x, y, x²,
y² and xy (x the experiment's value, y the query's), in float64. Chunks are
independent (one row per experiment), and :func:`pearson` turns the sums into
r. :func:`rank_sums` gives the same sums over ranks (Spearman).

Queries come prepared by :func:`prepare_queries`: their values with 0 where
not measured, and the distinct patterns of measured voxels (null maps on one
mask share one pattern), so that many queries (surrogate maps for spatial
statistics) cost one matrix product per chunk each for Σy, Σy² and Σxy, and
one for all of n, Σx and Σx² per distinct pattern.

With numba (the ``fast`` extra) and a few queries, a compiled loop decodes the
chunk's selected voxels and accumulates the six sums in one sweep; otherwise
the chunk is decoded once and the sums are matrix products. Both accumulate in
float64 and agree to rounding.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .. import kernels

__all__ = ["PAIR_FIELDS", "Queries", "pairwise_sums", "pearson", "prepare_queries", "rank_sums"]

#: Rows of :func:`pairwise_sums` (axis 1).
PAIR_FIELDS = ("n", "sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy")
#: Up to this many queries, the compiled loop; above, matrix products.
_LOOP_QUERIES = 4


class Queries(NamedTuple):
    """Query maps over the selected voxels, ready for :func:`pairwise_sums`.

    Attributes
    ----------
    values : numpy.ndarray
        float64 ``(queries, voxels)``, 0 where a query is not measured.
    measured : numpy.ndarray
        float64 ``(patterns, voxels)``, 1 where measured: the distinct patterns.
    which : numpy.ndarray
        int64 ``(queries,)``: the pattern of every query.
    """

    values: np.ndarray
    measured: np.ndarray
    which: np.ndarray


def prepare_queries(maps: np.ndarray) -> Queries:
    """Split query maps into values and distinct measured patterns.

    Parameters
    ----------
    maps : numpy.ndarray
        ``(queries, voxels)`` (or ``(voxels,)`` for one), NaN where not measured.

    Returns
    -------
    Queries
    """
    maps = np.atleast_2d(np.asarray(maps, dtype=np.float64))
    ok = np.isfinite(maps)
    # distinct rows by their packed bytes, in order of first appearance (numpy's
    # unique(axis=0) views a row as one structured value of a field per voxel: slow)
    first: dict[bytes, int] = {}
    which = np.array(
        [first.setdefault(row.tobytes(), len(first)) for row in np.packbits(ok, axis=1)],
        dtype=np.int64,
    )
    patterns = ok[np.unique(which, return_index=True)[1]]
    return Queries(
        np.ascontiguousarray(np.where(ok, maps, 0.0)),
        np.ascontiguousarray(patterns.astype(np.float64)),
        which,
    )


def _decoded(block: np.ndarray, table: np.ndarray | None, voxels: np.ndarray) -> np.ndarray:
    """float64 ``(experiments, selected voxels)``, NaN = not measured."""
    picked = np.asarray(block)[:, voxels]
    if table is not None:
        return table[picked].astype(np.float64)
    return picked.astype(np.float64)


def _product_sums(x: np.ndarray, q: Queries) -> np.ndarray:
    ok = ~np.isnan(x)
    m = ok.astype(np.float64)
    x0 = np.where(ok, x, 0.0)
    pat = q.measured.T
    out = np.empty((x.shape[0], len(PAIR_FIELDS), q.values.shape[0]), dtype=np.float64)
    out[:, 0] = (m @ pat)[:, q.which]
    out[:, 1] = (x0 @ pat)[:, q.which]
    out[:, 2] = m @ q.values.T
    out[:, 3] = ((x0 * x0) @ pat)[:, q.which]
    out[:, 4] = m @ (q.values * q.values).T
    out[:, 5] = x0 @ q.values.T
    return out


def pairwise_sums(
    block: np.ndarray,
    table: np.ndarray | None,
    voxels: np.ndarray,
    values: np.ndarray,
    measured: np.ndarray,
    which: np.ndarray,
    *,
    engine: str = "auto",
) -> np.ndarray:
    """Masked pairwise Pearson sums of every experiment of a chunk with every query.

    Parameters
    ----------
    block : numpy.ndarray
        ``(experiments, all voxels)``: raw float16 bits as uint16 with ``table``,
        or float values (NaN = not measured) with ``table`` None.
    table : numpy.ndarray or None
        The decode table (:func:`agea_xr.kernels.decode_table`).
    voxels : numpy.ndarray
        int64 indices of the selected voxels (the mask), ``(voxels,)``.
    values, measured, which : numpy.ndarray
        The queries over the selected voxels (:class:`Queries`).
    engine : {"auto", "numba", "numpy"}
        The compiled loop (few queries, numba installed) or matrix products.

    Returns
    -------
    numpy.ndarray
        float64 ``(experiments, 6, queries)``, rows :data:`PAIR_FIELDS`, over the
        voxels measured in both the experiment and the query.

    Examples
    --------
    >>> q = prepare_queries(np.array([1.0, 2.0, np.nan]))
    >>> block = np.array([[2.0, 4.0, 5.0]])
    >>> pairwise_sums(block, None, np.arange(3), *q)[0, :, 0].tolist()
    [2.0, 6.0, 3.0, 20.0, 5.0, 10.0]
    """
    voxels = np.ascontiguousarray(voxels, dtype=np.int64)
    q = Queries(values, measured, which)
    loop = _loop() if engine != "numpy" and values.shape[0] <= _LOOP_QUERIES else None
    if engine == "numba" and _loop() is None:
        raise ImportError("The numba kernels are not available: install the 'fast' extra.")
    if loop is None:
        return _product_sums(_decoded(block, table, voxels), q)
    block = np.ascontiguousarray(block)
    if table is None:
        block = block.astype(np.float32, copy=False)
        table = np.empty(0, dtype=np.float32)
    out = np.zeros((block.shape[0], len(PAIR_FIELDS), values.shape[0]), dtype=np.float64)
    ok = np.ascontiguousarray(measured[which])
    loop(block, table, voxels, np.ascontiguousarray(values), ok, out)
    return out


def rank_sums(
    block: np.ndarray,
    table: np.ndarray | None,
    voxels: np.ndarray,
    values: np.ndarray,
    measured: np.ndarray,
    which: np.ndarray,
) -> np.ndarray:
    """As :func:`pairwise_sums`, over ranks: the sums whose Pearson r is Spearman's rho.

    For every experiment and query, the voxels measured in both are ranked
    (``scipy.stats.rankdata``, ties get their average rank) separately for the
    experiment and the query, as ``scipy.stats.spearmanr`` does on those voxels.
    One sort per experiment and query: several times slower than the Pearson sums.
    """
    from scipy.stats import rankdata

    x = _decoded(block, table, np.ascontiguousarray(voxels, dtype=np.int64))
    ok_q = measured[which] > 0
    out = np.zeros((x.shape[0], len(PAIR_FIELDS), values.shape[0]), dtype=np.float64)
    for e in range(x.shape[0]):
        measured_x = ~np.isnan(x[e])
        for j in range(values.shape[0]):
            both = measured_x & ok_q[j]
            n = int(both.sum())
            if n == 0:
                continue
            rx = rankdata(x[e, both])
            ry = rankdata(values[j, both])
            out[e, :, j] = (n, rx.sum(), ry.sum(), rx @ rx, ry @ ry, rx @ ry)
    return out


def pearson(sums: np.ndarray, min_voxels: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r and voxel counts from :func:`pairwise_sums` rows.

    Parameters
    ----------
    sums : numpy.ndarray
        ``(..., 6, queries)``.
    min_voxels : int
        r is NaN where fewer voxels are measured in both (at least 2 always), or
        where either map is constant over them.

    Returns
    -------
    r : numpy.ndarray
        float64 in [-1, 1], ``(..., queries)``.
    n : numpy.ndarray
        int64 voxels used.
    """
    n, sx, sy, sxx, syy, sxy = (sums[..., i, :] for i in range(len(PAIR_FIELDS)))
    need = max(int(min_voxels), 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        ok = (n >= need) & (vx > 1e-12 * sxx) & (vy > 1e-12 * syy)
        r = np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0), n.astype(np.int64)


def _load(row, p, table):  # pragma: no cover - replaced by the numba overload
    raise NotImplementedError


@functools.cache
def _loop():
    """The compiled few-queries loop, or None without numba (or when disabled)."""
    if not kernels.have_numba():
        return None
    import numba
    from numba.core import types as nbtypes
    from numba.extending import overload

    @overload(_load, inline="always")
    def _load_impl(row, p, table):  # pragma: no cover - compiled
        if row.dtype == nbtypes.uint16:
            return lambda row, p, table: np.float64(table[row[p]])
        return lambda row, p, table: np.float64(row[p])

    # reassociation lets the six sums vectorise (several partial sums each), which
    # agree with sequential sums to rounding; NaN checks stay exact (no "nnan")
    @numba.njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
    def _sums(data, table, voxels, values, ok, out):  # pragma: no cover - compiled
        k = data.shape[0]
        n_q = values.shape[0]
        n_v = voxels.size
        xs = np.empty(n_v, dtype=np.float32)  # the gathered row, decoded (NaN: missing)
        for e in range(k):
            row = data[e]
            for i in range(n_v):
                xs[i] = _load(row, voxels[i], table)
            for j in range(n_q):
                y = values[j]
                w = ok[j]
                n = sx = sy = sxx = syy = sxy = 0.0
                for i in range(n_v):
                    x = np.float64(xs[i])
                    good = x == x
                    m = 1.0 if good else 0.0
                    both = m * w[i]
                    x = (x if good else 0.0) * w[i]
                    yi = y[i] * m
                    n += both
                    sx += x
                    sy += yi
                    sxx += x * x
                    syy += yi * yi
                    sxy += x * yi
                out[e, 0, j] = n
                out[e, 1, j] = sx
                out[e, 2, j] = sy
                out[e, 3, j] = sxx
                out[e, 4, j] = syy
                out[e, 5, j] = sxy

    return _sums
