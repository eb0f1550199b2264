"""Honest p-values for map comparisons: spatial nulls, naive p and Benjamini-Hochberg q.

Brain maps are smooth: neighbouring voxels are not independent samples, so the
textbook p-value of a correlation between two maps (:func:`scipy.stats.pearsonr`
over 60,000 voxels) is far too small. The p-values here compare the observed
statistic with its values for surrogate maps that keep the spatial
autocorrelation of the original (:mod:`agea_xr.analysis.nulls`, Moran spectral
randomisation), two-sided::

    p_spatial = (1 + #{|r_null| >= |r|}) / (1 + n_null)

(Davison & Hinkley 1997, eq. 4.11; never 0). Against all experiments at once
(:func:`null_pass`), the surrogates are linear in random signs, so one pass
over the data projects every experiment on the map's spectral parts (two
matrix products per chunk of experiments, :func:`agea_xr.analysis._chunks.experiment_pass`)
and the ``n_null`` null correlations of every experiment follow from small
``(experiment, mode) @ (mode, null)`` products, with missing voxels left out
pairwise as in the observed correlation. q-values: Benjamini-Hochberg
(:func:`scipy.stats.false_discovery_control`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice, check_integer, check_random_state
from ._chunks import ExpressionMatrix, experiment_pass, scratch
from .nulls import (
    METHODS,
    N_MODES,
    Decomposition,
    _as_volume,
    check_mask,
    decompose,
    random_signs,
    support,
)

__all__ = ["compare_maps", "null_pass", "p_two_sided", "q_values", "spatial_p"]

_CHUNK = 256  # null maps per small product (bounds memory to experiments x 256 floats)


def p_two_sided(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Monte-Carlo two-sided p: ``(1 + #{|null| >= |observed|}) / (1 + n_null)``.

    Parameters
    ----------
    observed : numpy.ndarray
        ``(...)`` statistics.
    null : numpy.ndarray
        ``(..., n_null)`` null statistics of each.

    Returns
    -------
    numpy.ndarray
        ``(...)`` p in ``(0, 1]``; NaN where ``observed`` is NaN.
    """
    observed = np.asarray(observed, dtype=np.float64)
    count = _count(observed, np.asarray(null, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        p = (1.0 + count) / (1.0 + np.shape(null)[-1])
    return np.where(np.isnan(observed), np.nan, p)


def _count(observed: np.ndarray, null: np.ndarray) -> np.ndarray:
    # a relative tolerance: a null equal to the observed value (up to rounding) counts
    bound = np.abs(observed)[..., None] * (1 - 1e-9)
    with np.errstate(invalid="ignore"):
        return (np.abs(null) >= bound).sum(axis=-1)


def q_values(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of the finite p-values (NaN stays NaN).

    Uses :func:`scipy.stats.false_discovery_control` (``method="bh"``).
    """
    from scipy.stats import false_discovery_control

    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = false_discovery_control(p[ok], method="bh")
    return q


def compare_maps(
    a: xr.DataArray | np.ndarray,
    b: xr.DataArray | np.ndarray,
    *,
    n_null: int = 1000,
    mask: xr.DataArray | np.ndarray | None = None,
    method: str = "moran",
    n_modes: int = N_MODES,
    random_state: int | np.random.Generator | None = None,
) -> xr.Dataset:
    """Pearson r between two maps, with a spatial p-value and the naive one.

    Over the voxels of ``mask`` where both maps are finite. ``n_null``
    surrogates of each map are drawn (:func:`agea_xr.null_maps`, Moran spectral
    randomisation); the null distribution pools ``r(a*, b)`` and ``r(a, b*)``, so
    the test is symmetric in ``a`` and ``b`` and accounts for the smoothness of
    both. ``p_naive`` is :func:`scipy.stats.pearsonr`'s, which treats voxels as
    independent: reported to show how misleading it is, not to be used.

    Parameters
    ----------
    a, b : xarray.DataArray or numpy.ndarray
        Two maps of the same shape, dims ``(ml, dv, ap)``; NaN = no value.
    n_null : int, default 1000
        Surrogates of each map (the smallest p is ``1 / (1 + 2 n_null)``).
    mask : boolean volume, optional
        Voxels to compare. Default: the brain (``label != 0`` of a map's ``label``
        coordinate, else of the Allen annotation).
    method : {"moran"}
        Surrogate method (see :func:`agea_xr.null_maps`).
    n_modes : int, default 128
        Modes of the spectral basis.
    random_state : int or numpy.random.Generator, optional
        Seed of the surrogates.

    Returns
    -------
    xarray.Dataset
        ``r``, ``p_spatial``, ``p_naive`` (scalars), ``n_voxels``, and ``null``
        ``(map, surrogate)``: the null r when map ``"a"`` or ``"b"`` is replaced
        by its surrogates. ``attrs``: method, n_modes, citation.

    Raises
    ------
    ValueError
        For maps of different shapes, fewer than 3 voxels in common, a constant
        map, a bad mask, unknown method or non-positive ``n_null``.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> res = agea_xr.compare_maps(ds.agea.gene("Pdyn"), ds.agea.gene("Nrp1"),
    ...                            n_null=200, random_state=0)
    >>> round(float(res.r), 3)    # nearly unrelated maps ...
    0.01
    >>> bool(res.p_naive < 0.05), bool(res.p_spatial > 0.5)  # "significant" if voxels were iid
    (True, True)
    """
    check_choice(method, METHODS, "null method")
    n_null = check_integer(n_null, "n_null", minimum=1)
    n_modes = check_integer(n_modes, "n_modes", minimum=1)
    check_random_state(random_state)
    va, da = _as_volume(a, "a")
    vb, db = _as_volume(b, "b")
    if va.shape != vb.shape:
        raise ValueError(f"a and b must have the same shape, got {va.shape} and {vb.shape}.")
    used = check_mask(mask, va.shape, da if da is not None else db)
    used = support(va, support(vb, used, "b"), "a and b together")
    x, y = va[used], vb[used]
    rng = np.random.default_rng(check_random_state(random_state))
    nulls = []
    for one, other, name in ((x, y, "a"), (y, x, "b")):
        if np.ptp(one) == 0:
            raise ValueError(f"Map {name} is constant on the voxels compared: r is undefined.")
        parts = decompose(one, used, n_modes)
        centred = other - other.mean()
        own = one - parts.mean
        projections = parts.projections(centred) / np.sqrt((own @ own) * (centred @ centred))
        nulls.append(random_signs(rng, n_null, projections.size) @ projections)
    from scipy.stats import pearsonr

    result = pearsonr(x, y)
    r = float(result.statistic)
    null = np.stack(nulls)
    p_spatial = float((1 + _count(np.array(r), null.reshape(-1))) / (1 + null.size))
    return xr.Dataset(
        {
            "r": ((), r, {"long_name": "Pearson r"}),
            "p_spatial": ((), p_spatial, {"long_name": "two-sided p against spatial nulls"}),
            "p_naive": ((), float(result.pvalue), {"long_name": "two-sided p, voxels iid"}),
            "n_voxels": ((), int(used.sum()), {"long_name": "voxels compared"}),
            "null": (("map", "surrogate"), null, {"long_name": "Pearson r of surrogates"}),
        },
        coords={"map": ["a", "b"]},
        attrs=_method_attrs(n_modes),
    )


def _method_attrs(n_modes: int) -> dict[str, Any]:
    return {
        "null_method": "Moran spectral randomisation",
        "n_modes": int(n_modes),
        "references": "Wagner & Dray (2015) Methods Ecol Evol 6:1169",
    }


# --- nulls against all experiments -----------------------------------------------------------
def _null_kernel(block, table, where, parts, columns):
    """Per experiment: n, sum y, SS y, mean y, ``yc @ parts``, ``measured @ columns``.

    ``parts`` ``(voxel, K)`` float32, ``columns`` = ``[parts, weights, squares]``.
    """
    # the chunk's large temporaries are this thread's scratch arrays, kept between chunks
    shape = (block.shape[0], where.size)
    y = scratch("null-values", shape, np.float32)
    if table is not None:
        bits = scratch("null-bits", shape, block.dtype)
        # where: voxels of this grid, and the bits index 65,536 entries: the modes never
        # act, and they keep numpy from buffering the output
        np.take(block, where, axis=1, out=bits, mode="clip")
        np.take(table, bits, out=y, mode="wrap")
    else:
        y[...] = block[:, where]
    ok = np.isfinite(y, out=scratch("null-measured", shape, np.bool_))
    missing = np.logical_not(ok, out=scratch("null-missing", shape, np.bool_))
    n = ok.sum(axis=1).astype(np.float64)
    np.copyto(y, 0, where=missing)
    total = y.sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / n, 0.0)
    y -= mean[:, None].astype(np.float32)
    np.copyto(y, 0, where=missing)  # y is now the centred values, 0 where not measured
    ss = np.einsum("ev,ev->e", y, y, dtype=np.float64)
    projected = y @ parts
    weights = scratch("null-weights", shape, np.float32)
    np.copyto(weights, ok)
    measured = weights @ columns
    head = np.stack([n, total, ss, mean], axis=1)
    return np.concatenate([head, projected, measured], axis=1)


def null_pass(matrix: ExpressionMatrix, parts: Decomposition):
    """Lazy per-experiment statistics of the nulls of one map, ``(experiment, 2 K + 6)``.

    ``K = n_modes + 1`` parts. One pass: every chunk of experiments is reduced
    to its measured voxels' count, sum, sum of squares and mean, its centred
    values projected on the basis and the residual (one product) and its
    measured mask projected on them, the surrogates' expected squares and the
    map's squares (one product). Products in float32, sums in float64; the
    projections are scaled by the map's coefficients in :func:`spatial_p`.
    """
    where = np.flatnonzero(parts.mask)
    x = parts.centred
    operand = np.column_stack([parts.basis, parts.residual]).astype(np.float32)
    columns = np.column_stack([operand, parts.square_weights(), x * x]).astype(np.float32)
    k = parts.n_parts
    return experiment_pass(matrix, _null_kernel, (4 + k + k + 2,), where, operand, columns)


def _pool(stats: np.ndarray, codes: np.ndarray, n_groups: int, k: int) -> np.ndarray:
    """Statistics of groups of experiments, their measured voxels pooled."""
    from ._chunks import group_sums

    n, total, ss, mean = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    projected, measured = stats[:, 4 : 4 + k], stats[:, 4 + k :]
    n_g = group_sums(n, codes, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_g = np.where(n_g > 0, group_sums(total, codes, n_groups) / n_g, 0.0)
    shift = np.where(n > 0, mean - mean_g[codes], 0.0)
    projected = projected + shift[:, None] * measured[:, :k]
    ss = ss + n * shift**2
    head = np.stack([n_g, group_sums(total, codes, n_groups), group_sums(ss, codes, n_groups)])
    return np.concatenate(
        [
            head.T,
            mean_g[:, None],
            group_sums(projected, codes, n_groups),
            group_sums(measured, codes, n_groups),
        ],
        axis=1,
    )


def spatial_p(
    stats: np.ndarray,
    parts: Decomposition,
    n_null: int,
    random_state: int | np.random.Generator | None = None,
    codes: np.ndarray | None = None,
    n_groups: int | None = None,
    min_voxels: int = 3,
    combine: str = "pool",
) -> tuple[np.ndarray, np.ndarray]:
    """Observed r and two-sided spatial p of every experiment (or group) from :func:`null_pass`.

    Parameters
    ----------
    stats : numpy.ndarray
        ``(experiment, 2 K + 6)``, computed :func:`null_pass` of ``parts``.
    parts : Decomposition
        The map's parts (``K = n_modes + 1``).
    n_null : int
        Surrogates (random sign vectors).
    random_state : int or numpy.random.Generator, optional
    codes, n_groups : optional
        Combine experiments by group (``codes`` ``0 .. n_groups - 1`` per experiment).
    min_voxels : int, default 3
        NaN r and p below this many measured voxels.
    combine : {"pool", "fisher"}
        How a group's experiments combine: their measured voxels pooled into one
        r, or the mean of their r through Fisher's z (the nulls alike).

    Returns
    -------
    r, p : numpy.ndarray
        ``(experiment,)`` or ``(group,)``: the Pearson r over the voxels measured in
        both, and its p against ``n_null`` surrogates of the map. For an
        experiment measured on every voxel, the null r are exact; otherwise each
        surrogate's sum of squares over the measured voxels is replaced by its
        expectation over the random signs (its mean and the cross-products are
        exact).
    """
    k = parts.n_parts
    scale = np.append(parts.coefficients, 1.0)
    stats = np.array(stats, dtype=np.float64)
    stats[:, 4 : 4 + k] *= scale
    stats[:, 4 + k : 4 + 2 * k] *= scale
    fisher = codes is not None and combine == "fisher"
    if codes is not None and not fisher:
        stats = _pool(stats, codes, int(n_groups), k)
    n, ss_y = stats[:, 0], stats[:, 2]
    projected, sums = stats[:, 4 : 4 + k], stats[:, 4 + k : 4 + 2 * k]
    expected_sq, squares = stats[:, 4 + 2 * k], stats[:, 5 + 2 * k]
    enough = (n >= max(min_voxels, 3)) & (ss_y > 0)
    safe_n = np.where(enough, n, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ss_x = squares - sums.sum(axis=1) ** 2 / safe_n
        r = np.where(enough, projected.sum(axis=1) / np.sqrt(ss_x * ss_y), np.nan)
    r = np.clip(r, -1.0, 1.0)
    if fisher:
        r_group = _fisher(r, codes, int(n_groups))
    rng = np.random.default_rng(check_random_state(random_state))
    count = np.zeros((r_group if fisher else r).shape, dtype=np.int64)
    for start in range(0, n_null, _CHUNK):
        signs = random_signs(rng, min(_CHUNK, n_null - start), k).T
        with np.errstate(invalid="ignore", divide="ignore"):
            ss_null = expected_sq[:, None] - (sums @ signs) ** 2 / safe_n[:, None]
            null = (projected @ signs) / np.sqrt(ss_null * ss_y[:, None])
        if fisher:
            null = _fisher(np.where(np.isnan(r)[:, None], np.nan, null), codes, int(n_groups))
        count = count + _count(r_group if fisher else r, null)
    if fisher:
        r = r_group
    p = np.where(np.isnan(r), np.nan, (1.0 + count) / (1.0 + n_null))
    return r, p


def _fisher(r: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, ``tanh`` of the mean ``arctanh(r)`` of its experiments (NaN left out)."""
    from ._chunks import group_sums

    ok = np.isfinite(r)
    z = np.where(ok, np.arctanh(np.clip(np.where(ok, r, 0.0), -1 + 1e-9, 1 - 1e-9)), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.tanh(group_sums(z, codes, n_groups) / group_sums(ok * 1.0, codes, n_groups))
