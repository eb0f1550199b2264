"""Points in space (probe channels, tracked cells): values and regions at the nearest voxel.

Points are given as iblatlas gives them: an ``(n, 3)`` array of ``x, y, z`` in
metres from bregma, x = ML (right positive), y = AP (anterior positive),
z = DV (dorsal positive). The nearest voxel is found with the package's one rule,
:func:`agea_xr.layout.nearest_index`: iblatlas' ``BrainCoordinates.xyz2i`` with
the same arithmetic, so that :func:`at` and :func:`region_at` agree with
``BrainAtlas.get_labels`` even for points exactly half-way between voxel centres.
:func:`voxel_positions` and :func:`plane_position` give the same voxel as
positions in any selection of the grid (seed lookup, the plane of a picture).

The conversions to and from iblatlas' ``BrainAtlas`` live in :mod:`agea_xr.bridge`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ._choices import check_choice, check_finite
from .bridge import brain_regions, label_of
from .layout import DXYZ, GRID_DIMS, GRID_SHAPE, NXYZ, XYZ0, XYZ_DIMS, nearest_index
from .regions import check_mapping, index_of_ids, region_ids
from .stacks import stack_of

__all__ = [
    "MODES",
    "at",
    "i2xyz",
    "plane_position",
    "region_at",
    "voxel_positions",
    "xyz2i",
]

#: What a point outside the grid gets: an error, the nearest voxel of the grid, or NaN.
MODES = ("raise", "clip", "nan")
_MODE_HINT = "(what a point outside the grid gets)."
#: Where a negative coordinate lies, per axis, for messages.
_MINUS = {"ml": "left", "ap": "posterior", "dv": "ventral"}


def _check_xyz(xyz: Any) -> np.ndarray:
    try:
        points = np.asarray(xyz, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Points must be numbers: an (n, 3) array of x, y, z in metres (ML, AP, DV from "
            f"bregma), got {xyz!r}."
        ) from None
    if points.shape == (3,):
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(
            f"Points must be an (n, 3) array of x, y, z in metres (ML, AP, DV from bregma), "
            f"got shape {np.shape(xyz)}."
        )
    return points


def _check_mode(mode: str, allowed: tuple[str, ...] = MODES) -> str:
    return check_choice(mode, allowed, "mode", _MODE_HINT)


def _outside_message(points: np.ndarray, bad: np.ndarray, where: str) -> str:
    lims = [
        f"{name} {lo * 1e3:+.3f} .. {hi * 1e3:+.3f} mm"
        for name, lo, hi in zip(
            ("x (ML)", "y (AP)", "z (DV)"),
            np.minimum(XYZ0, XYZ0 + (NXYZ - 1) * DXYZ),
            np.maximum(XYZ0, XYZ0 + (NXYZ - 1) * DXYZ),
            strict=True,
        )
    ]
    rows = np.flatnonzero(bad)
    shown = ", ".join(
        "#{} ({:+.3f}, {:+.3f}, {:+.3f}) mm".format(r, *(points[r] * 1e3)) for r in rows[:3]
    )
    more = f" and {rows.size - 3} more" if rows.size > 3 else ""
    return (
        f"{rows.size} point(s) lie outside {where} or are not finite: {shown}{more}. The grid's "
        f"voxel centres span {'; '.join(lims)} (points are in metres, not mm). Pass "
        "mode='clip' for the nearest voxel of the grid or mode='nan' for NaN there."
    )


def xyz2i(xyz: Any, mode: str = "raise") -> np.ndarray:
    """Nearest-voxel indices of points, as iblatlas ``BrainCoordinates.xyz2i``.

    The rule is :func:`agea_xr.layout.nearest_index` on each axis, iblatlas' own
    arithmetic, so a point exactly half-way between two voxel centres gets the
    voxel iblatlas gives it.

    Parameters
    ----------
    xyz : array-like, shape (n, 3) or (3,)
        x, y, z in metres from bregma (ML right +, AP anterior +, DV dorsal +).
    mode : {"raise", "clip"}, default "raise"
        Points outside the grid raise, or get the nearest index inside it.

    Returns
    -------
    numpy.ndarray
        int64 ``(n, 3)`` indices ``(i_ml, i_ap, i_dv)`` in xyz order (the volume
        is indexed ``[i_ml, i_dv, i_ap]``).

    Raises
    ------
    ValueError
        For a bad shape or mode, non-finite coordinates (iblatlas would silently
        read voxel 0 for NaN), or, with ``mode="raise"``, points outside the grid.

    Examples
    --------
    >>> xyz2i([0.0, -2.0e-3, -3.0e-3]).tolist()
    [[29, 37, 17]]
    """
    _check_mode(mode, ("raise", "clip"))
    points = _check_xyz(xyz)
    finite = np.isfinite(points).all(axis=1)
    index = _full_index(points, finite)
    inside = finite & ((index >= 0) & (index < NXYZ)).all(axis=1)
    if not inside.all():
        if mode == "raise" or not finite.all():
            raise ValueError(_outside_message(points, ~inside, "the AGEA grid"))
        index = np.clip(index, 0, NXYZ - 1)
    return index


def i2xyz(index: Any) -> np.ndarray:
    """Coordinates in metres of voxel indices, as iblatlas ``BrainCoordinates.i2xyz``.

    Parameters
    ----------
    index : array-like, shape (n, 3) or (3,)
        ``(i_ml, i_ap, i_dv)`` in xyz order; fractional indices are allowed.

    Returns
    -------
    numpy.ndarray
        float64 x, y, z in metres, same shape.

    Examples
    --------
    >>> (i2xyz([29, 37, 17]) * 1e3).round(3).tolist()
    [0.061, -2.0, -3.068]
    """
    return np.asarray(index, dtype=np.float64) * DXYZ + XYZ0


def _full_index(points: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Whole-grid (i_ml, i_ap, i_dv) of finite points by the one rule (0 for the others)."""
    safe = np.where(finite[:, None], points, XYZ0)
    return np.stack(
        [nearest_index(safe[:, axis], dim) for axis, dim in enumerate(XYZ_DIMS)], axis=1
    ).astype(np.int64)


# --- positions in a (selection of the) grid ----------------------------------------------
def _grid_index(values: np.ndarray, dim: str) -> np.ndarray:
    """Whole-grid index of each coordinate value of ``dim`` (must lie on the AGEA grid)."""
    axis = XYZ_DIMS.index(dim)
    values = np.asarray(values, dtype=np.float64)
    index = nearest_index(values, dim)
    on_grid = np.isfinite(values).all() and np.allclose(
        values, XYZ0[axis] + index * DXYZ[axis], rtol=0.0, atol=1e-10
    )
    if not on_grid or (index < 0).any() or (index >= NXYZ[axis]).any():
        raise ValueError(
            f"The {dim!r} coordinate does not lie on the AGEA 200 um grid (metres from "
            "bregma): points can only be looked up in data on that grid, e.g. from "
            "agea_xr.open_dataset() or a selection of it."
        )
    return index.astype(np.int64)


def _need_dims(obj: xr.Dataset | xr.DataArray, dims, what: str) -> None:
    for dim in dims:
        if dim not in obj.dims:
            raise ValueError(
                f"{what} needs the {dim!r} dimension, which this object lacks "
                f"(dims {tuple(obj.dims)}): select ranges, not single planes."
            )


def _is_whole(obj: xr.Dataset | xr.DataArray) -> bool:
    return all(obj.sizes.get(d) == n for d, n in zip(GRID_DIMS, GRID_SHAPE, strict=True))


def voxel_positions(
    obj: xr.Dataset | xr.DataArray, xyz: Any, mode: str = "raise"
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Positions in ``obj`` of the voxel nearest to each point: the one rule, on a selection.

    The voxel is the one :func:`xyz2i` (iblatlas' ``xyz2i``) picks on the whole
    grid; its positions are then found among ``obj``'s own ``ml``, ``dv``, ``ap``
    coordinates, which may be any selection of the grid, in any order. Used by
    :func:`at`, :func:`region_at` and the seed of ``seed_correlation``.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        With the ``ml``, ``dv`` and ``ap`` dims, on the AGEA grid.
    xyz : array-like, shape (n, 3) or (3,)
        x, y, z in metres from bregma.
    mode : {"raise", "clip", "nan"}, default "raise"
        For points outside ``obj``'s grid: raise, take the nearest voxel of ``obj``,
        or flag them in ``inside`` (their positions are 0).

    Returns
    -------
    positions : dict of str to numpy.ndarray
        int64 positions along ``ml``, ``dv`` and ``ap`` of ``obj`` (for ``isel``).
    inside : numpy.ndarray
        bool, per point: False where the point lies outside ``obj`` (mode ``nan``).

    Raises
    ------
    ValueError
        For a bad shape or mode, coordinates off the AGEA grid, a point outside
        ``obj`` (mode ``raise``), or a non-finite point (modes ``raise`` and ``clip``).

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> positions, inside = voxel_positions(ds, [0.0, -2.0e-3, -3.0e-3])
    >>> {dim: p.tolist() for dim, p in positions.items()}
    {'ml': [29], 'ap': [37], 'dv': [17]}
    """
    _check_mode(mode)
    points = _check_xyz(xyz)
    _need_dims(obj, GRID_DIMS, "Looking up points")
    finite = np.isfinite(points).all(axis=1)
    full = _full_index(points, finite)
    positions = {}
    inside = finite.copy()
    for axis, dim in enumerate(XYZ_DIMS):
        available = _grid_index(obj[dim].values, dim)
        lookup = np.full(NXYZ[axis], -1, dtype=np.int64)
        lookup[available] = np.arange(available.size)
        ok = (full[:, axis] >= 0) & (full[:, axis] < NXYZ[axis])
        pos = np.where(ok, lookup[np.clip(full[:, axis], 0, NXYZ[axis] - 1)], -1)
        if mode == "clip":
            order = np.argsort(available)
            nearest = np.abs(full[:, axis][:, None] - available[order][None, :]).argmin(axis=1)
            pos = np.where(pos >= 0, pos, order[nearest])
        inside &= pos >= 0
        positions[dim] = np.where(pos >= 0, pos, 0)
    if not inside.all():
        where = "the AGEA grid" if _is_whole(obj) else "this selection of the AGEA grid"
        if mode == "raise" or (mode == "clip" and not finite.all()):
            raise ValueError(_outside_message(points, ~inside, where))
    return positions, inside


def plane_position(obj: xr.Dataset | xr.DataArray, dim: str, value: Any) -> int:
    """Position along ``dim`` of ``obj`` of the plane nearest to ``value``: the one rule.

    The plane :func:`xyz2i` would pick for a point at ``value`` along ``dim``
    (iblatlas' ``x2i``/``y2i``/``z2i``), found among ``obj``'s own coordinates.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        With the ``dim`` dimension, on the AGEA grid (whole or a selection).
    dim : {"ml", "ap", "dv"}
        The axis.
    value : float
        Position in metres from bregma.

    Returns
    -------
    int
        The position along ``obj[dim]`` (for ``isel``).

    Raises
    ------
    ValueError
        If ``value`` is not finite, or the plane lies outside ``obj`` (the message
        gives the span of its voxel centres in mm).
    TypeError
        If ``value`` is not a number.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> plane_position(ds, "ap", -2.1e-3)  # half-way between -2.0 and -2.2 mm: iblatlas' pick
    38
    """
    dim = check_choice(dim, XYZ_DIMS, "dimension", "(ml, ap or dv, in metres from bregma).")
    value = check_finite(value, dim)
    _need_dims(obj, (dim,), "Choosing a plane")
    coords = np.asarray(obj[dim].values, dtype=np.float64)
    hits = np.flatnonzero(_grid_index(coords, dim) == int(nearest_index(value, dim)))
    if not hits.size:
        where = "the grid" if _is_whole(obj) else "this selection of the grid"
        raise ValueError(
            f"{dim}={value!r} m ({value * 1e3:+.3f} mm) lies outside {where}, whose {dim} voxel "
            f"centres span {coords.min() * 1e3:+.3f} .. {coords.max() * 1e3:+.3f} mm. "
            f"Coordinates are in metres from bregma ({dim}=-2.0e-3 is 2 mm {_MINUS[dim]})."
        )
    return int(hits[0])


# --- values and regions at points ----------------------------------------------------
def _point_coords(points: np.ndarray) -> dict[str, tuple]:
    names = {"x": "ML", "y": "AP", "z": "DV"}
    return {
        axis: (
            "point",
            points[:, k],
            {"units": "m", "long_name": f"asked point, {names[axis]} from bregma"},
        )
        for k, axis in enumerate("xyz")
    }


def _pointwise(data: xr.DataArray, positions: dict, inside: np.ndarray, points: np.ndarray):
    indexers = {dim: xr.DataArray(pos, dims="point") for dim, pos in positions.items()}
    out = data.isel(indexers).assign_coords(_point_coords(points))
    if not inside.all():
        keep = xr.DataArray(inside, dims="point")
        voxel = {dim: ("point", np.where(inside, out[dim].values, np.nan)) for dim in GRID_DIMS}
        out = out.assign_coords(voxel)
        out = out.where(keep) if out.dtype.kind == "f" else out
    others = [d for d in out.dims if d != "point"]
    return out.transpose("point", *others)


def at(obj: xr.Dataset | xr.DataArray, xyz: Any, mode: str = "raise") -> xr.DataArray:
    """Expression values (or any maps' values) at points: the voxel nearest to each point.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        A dataset (its ``expression``; for cell types or lipids their ``density``
        or ``intensity``) or any DataArray with the ``ml``, ``dv`` and ``ap`` dims
        on the AGEA grid (whole or a selection of it).
    xyz : array-like, shape (n, 3) or (3,)
        x, y, z in metres from bregma (IBL: x = ML right +, y = AP anterior +,
        z = DV dorsal +), as iblatlas takes them.
    mode : {"raise", "clip", "nan"}, default "raise"
        For points outside the grid: raise ``ValueError``, take the nearest voxel
        of the grid (iblatlas' ``clip``), or give NaN.

    Returns
    -------
    xarray.DataArray
        Dims ``("point", "experiment")`` (``("point", "cell_type")``,
        ``("point", "lipid")``, ``("point", ...)`` for other arrays), lazy if the
        data are. Coordinates ``x``, ``y``, ``z`` (the points asked), ``ml``,
        ``dv``, ``ap`` (centre of the voxel used; NaN outside the grid in mode
        ``nan``) and the items' own (``experiment`` and ``gene``; ``cell_type``
        and its taxonomy; ...).

    Raises
    ------
    ValueError
        For a bad shape or mode, a point outside the grid (mode ``raise``), or a
        non-finite point (modes ``raise`` and ``clip``).

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> values = at(ds, [[-2.0e-3, 1.0e-3, -3.5e-3], [2.0e-3, 1.0e-3, -3.5e-3]])
    >>> values.dims, values.sizes["point"]
    (('point', 'experiment'), 2)
    >>> bool(at(ds, [0.0, 0.0, 0.05], mode="nan").isnull().all())
    True
    """
    _check_mode(mode)
    points = _check_xyz(xyz)
    data = stack_of(obj)
    positions, inside = voxel_positions(data, points, mode)
    return _pointwise(data, positions, inside, points)


def region_at(
    obj: xr.Dataset | xr.DataArray, xyz: Any, mapping: str = "Allen", mode: str = "raise"
) -> xr.DataArray:
    """Region ids at points, as iblatlas ``BrainAtlas.get_labels(xyz, mapping, mode)``.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        See :func:`agea_xr.bridge.label_of`.
    xyz : array-like, shape (n, 3) or (3,)
        x, y, z in metres from bregma.
    mapping : str, default "Allen"
        See :data:`agea_xr.regions.MAPPINGS`.
    mode : {"raise", "clip", "nan"}, default "raise"
        As for :func:`at`; ``nan`` gives region 0 (``void``) outside the grid.

    Returns
    -------
    xarray.DataArray
        int64 ids, dims ``("point",)``, named ``region``, with coordinates ``x``,
        ``y``, ``z``, ``ml``, ``dv``, ``ap`` (as :func:`at`) and ``acronym``.

    Raises
    ------
    ValueError
        As for :func:`at`, and when there is no label volume.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> region_at(ds, [[2.0e-3, 1.0e-3, -3.5e-3]], mapping="Beryl").acronym.values.tolist()
    ['CP']
    """
    mapping = check_mapping(mapping)
    _check_mode(mode)
    points = _check_xyz(xyz)
    label = label_of(obj)
    positions, inside = voxel_positions(label, points, mode)
    picked = _pointwise(label, positions, inside, points)
    ids = np.where(inside, region_ids(np.asarray(picked.values), mapping), 0)
    acronyms = brain_regions().acronym[index_of_ids(ids)].astype(str)
    return xr.DataArray(
        ids,
        dims="point",
        coords={
            **{k: v.variable for k, v in picked.coords.items()},
            "acronym": ("point", acronyms),
        },
        name="region",
        attrs={"long_name": f"brain region id ({mapping} mapping)", "mapping": mapping},
    )
