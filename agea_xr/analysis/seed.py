"""Seed correlation maps: the Pearson r, across experiments, of every voxel with a seed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .. import kernels
from .._choices import check_finite, check_integer
from ..layout import AP, DV, GRID_DIMS, ML, RESOLUTION_UM
from ..points import i2xyz, xyz2i
from ..regions import region_mask
from ._chunks import experiment_pass, expression_matrix
from .items import on_items

__all__ = ["seed_correlation"]

_XYZ = (ML, AP, DV)


def _seed_point(xyz: Any) -> list[float]:
    """The seed point as 3 finite floats (metres), or a ValueError naming ``xyz``."""
    try:
        values = list(np.asarray(xyz, dtype=object).reshape(-1))
    except (TypeError, ValueError):
        values = [xyz]
    if len(values) != 3 or isinstance(xyz, str):
        raise ValueError(
            f"xyz must be 3 numbers, x=ML, y=AP, z=DV in metres from bregma (e.g. "
            f"xyz=[-1.5e-3, -2.0e-3, -1.5e-3]), got {xyz!r}."
        )
    point = []
    names = ("xyz[0] (x, ML)", "xyz[1] (y, AP)", "xyz[2] (z, DV)")
    for name, value in zip(names, values, strict=True):
        try:
            point.append(check_finite(value, name))
        except TypeError as error:
            raise ValueError(f"{error} Pass xyz as 3 numbers in metres.") from None
    return point


def _seed_voxel(ds: xr.Dataset, xyz: Any) -> tuple[int, tuple[float, float, float], list[float]]:
    """The seed voxel: flat index (ml, dv, ap order) in ``ds``, its centre, the point.

    The voxel is the one iblatlas' ``BrainCoordinates.xyz2i`` picks
    (:func:`agea_xr.points.xyz2i`): a point exactly half-way between two voxel
    centres goes where ``at`` and ``region_at`` put it.
    """
    point = _seed_point(xyz)
    index = xyz2i(point, mode="clip")[0]
    centre = i2xyz(index)
    half = RESOLUTION_UM * 1e-6 / 2 + 1e-9
    for dim, value, c in zip(_XYZ, point, centre, strict=True):
        if abs(value - c) > half:
            coord = np.asarray(ds[dim].values)
            raise ValueError(
                f"The seed's {dim} = {value * 1e3:+.3f} mm lies outside the grid "
                f"({coord.min() * 1e3:+.3f} .. {coord.max() * 1e3:+.3f} mm). Coordinates "
                "are metres from bregma, in the order x=ML, y=AP, z=DV."
            )
    where = {}
    for dim, c in zip(_XYZ, centre, strict=True):
        coord = np.asarray(ds[dim].values, dtype=np.float64)
        hit = np.flatnonzero(np.abs(coord - c) < 1e-9)
        if hit.size == 0:
            raise ValueError(
                f"The seed's voxel ({dim} = {c * 1e3:+.3f} mm) is not in this dataset, "
                f"whose {dim} spans {coord.min() * 1e3:+.3f} .. {coord.max() * 1e3:+.3f} mm: "
                "select a range that holds the seed, or seed inside the range."
            )
        where[dim] = int(hit[0])
    shape = tuple(ds.sizes[d] for d in GRID_DIMS)
    flat = int(np.ravel_multi_index(tuple(where[d] for d in GRID_DIMS), shape))
    voxel = tuple(float(ds[d].values[where[d]]) for d in _XYZ)
    return flat, voxel, point


def _moments_kernel(block, table, perm, bounds, seed_index, out=None):
    """Seed moments of one chunk (added to ``out``): the seed voxel's or region's profile."""
    if seed_index >= 0:
        y = block[:, seed_index]
        y = (table[y] if table is not None else y).astype(np.float64)
    else:
        sums = kernels.segment_sums(block, perm, bounds, table)
        count, total = sums[:, 0, 0], sums[:, 1, 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(count > 0, total / count, np.nan)
    return kernels.seed_moments(block, y, table, out=out)


def _xyz_mm(coords: dict[str, np.ndarray], flat: int) -> tuple[float, float, float]:
    """x=ML, y=AP, z=DV in mm of the voxel at flat (ml, dv, ap) index ``flat``."""
    shape = tuple(coords[d].size for d in GRID_DIMS)
    where = dict(zip(GRID_DIMS, np.unravel_index(flat, shape), strict=True))
    return tuple(float(coords[d][where[d]]) * 1e3 for d in (ML, AP, DV))


def _why_needed(need: int, min_experiments: int) -> str:
    """Why ``need`` experiments are needed: min_experiments, or 2 for any correlation."""
    if need > min_experiments:
        return f"a correlation needs at least 2 experiments; min_experiments={min_experiments}"
    return f"min_experiments={min_experiments}"


def _check_seed(n: np.ndarray, n_x: np.ndarray, need: int, seed: dict[str, Any]) -> None:
    """Raise ValueError when no voxel can reach ``need`` experiments with the seed.

    Runs inside the pass (the measured counts are only known then): the map
    would otherwise come out all NaN without a word.
    """
    most = int(n.max(initial=0))
    if most >= need:
        return
    coords = seed["coords"]
    if seed["index"] < 0:
        raise ValueError(
            f"The seed region {seed['region']!r} has a measured mean profile in at most "
            f"{most} experiment(s) together with any voxel, fewer than the "
            f"{need} needed ({_why_needed(need, seed['min_experiments'])}): its correlation "
            "map would be all NaN. Choose a larger or better-measured region, or lower "
            "min_experiments."
        )
    x, y, z = _xyz_mm(coords, seed["index"])
    n_seed = int(n[seed["index"]])
    shape = tuple(coords[d].size for d in GRID_DIMS)
    index = dict(zip(GRID_DIMS, np.unravel_index(seed["index"], shape), strict=True))
    where = ", ".join(f"{d}={int(index[d])}" for d in (ML, AP, DV))
    message = (
        f"The seed xyz={seed['xyz']!r} (m) falls in the voxel at x={x:+.3f}, y={y:+.3f}, "
        f"z={z:+.3f} mm (indices {where}), which is measured in {n_seed} of "
        f"{seed['n_experiments']} experiments, fewer than the {need} needed "
        f"({_why_needed(need, seed['min_experiments'])}): its correlation map would be all "
        "NaN."
    )
    good = np.flatnonzero(n_x >= need)
    if good.size == 0:
        best = int(n_x.max(initial=0))
        remedy = (
            "lower min_experiments"
            if need > 2
            else "a correlation across experiments needs a dataset of at least 2 experiments"
        )
        raise ValueError(
            f"{message} No voxel is measured in {need} experiments (the best-measured in "
            f"{best}): {remedy}."
        )
    grids = np.meshgrid(*(coords[d] for d in GRID_DIMS), indexing="ij")
    position = np.stack([g.reshape(-1)[good] for g in grids], axis=1)
    seed_position = np.array([g.reshape(-1)[seed["index"]] for g in grids])
    distance = np.sqrt(((position - seed_position) ** 2).sum(axis=1)) * 1e3
    nearest = int(good[np.argmin(distance)])
    nx, ny, nz = _xyz_mm(coords, nearest)
    raise ValueError(
        f"{message} The nearest voxel measured in at least {need} experiments is at "
        f"x={nx:+.3f}, y={ny:+.3f}, z={nz:+.3f} mm ({float(distance.min()):.2f} mm away, "
        f"{int(n_x[nearest])} experiments): seed there "
        f"(xyz=[{nx * 1e-3:.4g}, {ny * 1e-3:.4g}, {nz * 1e-3:.4g}]), or lower min_experiments."
    )


def _pearson(moments: np.ndarray, min_experiments: int, seed: dict[str, Any]) -> np.ndarray:
    n, sx, sy, sxx, syy, sxy, n_x = moments
    need = max(min_experiments, 2)
    _check_seed(n, n_x, need, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        ok = (n >= need) & (vx > 1e-12 * sxx) & (vy > 1e-12 * syy)
        r = np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0)


@on_items("volume")
def seed_correlation(
    ds: xr.Dataset,
    xyz: Sequence[float] | None = None,
    *,
    region: str | int | Iterable[str | int] | None = None,
    mapping: str = "Allen",
    hemisphere: str | None = None,
    min_experiments: int = 10,
    variable: str | None = None,
) -> xr.DataArray:
    """Pearson correlation map, across experiments, of every voxel with a seed.

    The seed profile is the seed voxel's value in every experiment (or, for a
    seed region, the mean of the region's measured voxels in every experiment).
    For each voxel, r is computed over the experiments where both the voxel and
    the seed are measured. One pass: each chunk of experiments adds, per voxel,
    the count and the sums of x, y, x², y² and xy in float64; then
    ``r = (Σxy - ΣxΣy/n) / sqrt((Σx² - (Σx)²/n)(Σy² - (Σy)²/n))``.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset (``label`` needed only for a seed region), or a cell-type
        or lipid dataset (:func:`agea_xr.open_cell_types`,
        :func:`agea_xr.open_lipids`): the profiles are then across its items.
    xyz : sequence of 3 floats, optional
        Seed point in metres from bregma, IBL order x=ML, y=AP, z=DV; the
        nearest voxel is the seed.
    region : str, int or list of them, optional
        Seed region instead of a point: acronyms or Allen ids, descendants
        included (see :func:`agea_xr.regions.region_mask`).
    mapping : str, default "Allen"
        Mapping used to find the seed region's voxels.
    hemisphere : {None, "left", "right"}, default None
        Restrict the seed region to one hemisphere.
    min_experiments : int, default 10
        Voxels with fewer experiments (items) measured at both the voxel and the
        seed get NaN (at least 2 are always needed).
    variable : str, optional
        Analyse another ``(item, ml, dv, ap)`` variable than ``expression``: the
        ``density`` of :func:`agea_xr.open_cell_types`, the ``intensity`` of
        :func:`agea_xr.open_lipids` (the default for a dataset without
        ``expression``: its one such variable).

    Returns
    -------
    xarray.DataArray
        Lazy (dask) float64 r in [-1, 1], dims ``(ml, dv, ap)``, named ``r``, with
        the coordinates ``n_experiments`` (experiments used per voxel) and, when
        ``ds`` has one, ``label`` (so that ``r.agea.plot_slice(ap=...)`` and
        ``r.agea.sel_region(...)`` work). Compute both in one pass with
        ``.compute()``. ``attrs``: ``long_name`` ("Pearson r", dimensionless, no
        ``units``), ``valid_range`` [-1, 1], ``description`` (the seed in words),
        ``seed_xyz`` (the seed voxel's centre, metres) or ``seed_region``, and
        ``min_experiments``. On items, ``n_experiments`` and ``min_experiments``
        count them (``n_cell_types``, ``min_lipids``) and ``variable`` names the
        variable.

    Raises
    ------
    ValueError
        If neither or both of ``xyz`` and ``region`` are given, the point lies
        outside the grid, the seed region has no voxel, or ``min_experiments``
        is not a positive integer. Also, when the result is computed (the
        measured counts are known only in the pass), if the seed is measured in
        fewer than ``max(min_experiments, 2)`` experiments, which would give an
        all-NaN map: the message names the seed, its voxel, how many experiments
        measure it, and the nearest voxel measured enough (distance in mm).
    KeyError
        For an unknown region acronym.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> r = seed_correlation(ds, [-1.5e-3, 0.5e-3, -3.5e-3], min_experiments=2).compute()
    >>> float(r.sel(ml=-1.5e-3, ap=0.5e-3, dv=-3.5e-3, method="nearest"))
    1.0
    >>> int(r.n_experiments.max())
    2
    """
    if (xyz is None) == (region is None):
        raise ValueError(
            "Give exactly one seed: xyz=[x, y, z] (metres from bregma, ML AP DV) or "
            "region='CA1' (an acronym, id or list of them)."
        )
    min_experiments = check_integer(min_experiments, "min_experiments", minimum=1)
    shape = tuple(ds.sizes[d] for d in GRID_DIMS) if all(d in ds.sizes for d in GRID_DIMS) else ()
    matrix = expression_matrix(ds)
    if matrix.n_experiments == 0:
        raise ValueError(
            "No experiment is selected: a correlation across experiments needs at least "
            f"{max(min_experiments, 2)} (min_experiments={min_experiments}). Select more "
            "experiments (ds.sel(gene=[...]) or ds.isel(experiment=...))."
        )
    attrs: dict[str, Any] = {
        "long_name": "Pearson r",
        "valid_range": [-1.0, 1.0],
        "min_experiments": int(min_experiments),
    }
    seed: dict[str, Any] = {
        "coords": {d: np.asarray(ds[d].values, dtype=np.float64) for d in GRID_DIMS},
        "min_experiments": int(min_experiments),
        "n_experiments": matrix.n_experiments,
    }
    if xyz is not None:
        seed_index, centre, point = _seed_voxel(ds, xyz)
        perm, bounds = np.zeros(0, np.int64), np.zeros(2, np.int64)
        attrs["seed_xyz"] = list(centre)
        attrs["description"] = (
            "Pearson r with the voxel at x={:+.3f}, y={:+.3f}, z={:+.3f} mm".format(
                *(c * 1e3 for c in centre)
            )
        )
        seed["xyz"] = point
    else:
        seed_mask = region_mask(ds, region, mapping=mapping, hemisphere=hemisphere)
        seed_mask = seed_mask.transpose(*GRID_DIMS).values
        if not seed_mask.any():
            raise ValueError(
                f"The seed region {region!r} has no voxel in this dataset "
                f"(hemisphere={hemisphere!r}): choose another region or hemisphere."
            )
        seed_index = -1
        perm, bounds = kernels.segments(np.where(seed_mask.reshape(-1), 0, -1), 1)
        attrs["seed_region"] = str(region)
        attrs["description"] = f"Pearson r with the mean profile of {region}"
        seed["region"] = region
    moments = experiment_pass(
        matrix,
        _moments_kernel,
        (len(kernels.MOMENT_FIELDS), matrix.n_voxels),
        perm,
        bounds,
        add=True,
        seed_index=seed_index,
    )
    seed["index"] = seed_index
    r = moments.map_blocks(
        _pearson, int(min_experiments), seed=seed, drop_axis=0, dtype=np.float64
    )
    n = moments[0].astype(np.int64)
    coords = {d: ds[d] for d in GRID_DIMS}
    coords["n_experiments"] = (GRID_DIMS, n.reshape(shape))
    if "label" in ds.variables:
        label = ds["label"].transpose(*GRID_DIMS)
        values = label.compute(scheduler="synchronous").values  # small, in memory
        coords["label"] = (GRID_DIMS, values, label.attrs)
    return xr.DataArray(r.reshape(shape), dims=GRID_DIMS, coords=coords, name="r", attrs=attrs)
