"""Points in space (probe channels, tracked cells) and the bridge to iblatlas.

Points are given as iblatlas gives them: an ``(n, 3)`` array of ``x, y, z`` in
metres from bregma, x = ML (right positive), y = AP (anterior positive),
z = DV (dorsal positive). The nearest voxel is found exactly as iblatlas'
``BrainCoordinates.xyz2i`` finds it on the atlas of
``iblatlas.genomics.agea.load_atlas()``, with the same arithmetic, so that
:func:`at` and :func:`region_at` agree with ``BrainAtlas.get_labels``.

:func:`to_brain_atlas` builds that ``iblatlas.atlas.BrainAtlas`` from a
dataset; :func:`from_brain_atlas` and :func:`wrap_volume` go the other way.
iblatlas is imported only inside the functions that need it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from . import layout
from .layout import AP, DV, GRID_DIMS, GRID_SHAPE, ML

__all__ = [
    "DIMS2XYZ",
    "DXYZ",
    "IORIGIN",
    "MODES",
    "NXYZ",
    "XYZ0",
    "XYZ2DIMS",
    "at",
    "from_brain_atlas",
    "i2xyz",
    "region_at",
    "to_brain_atlas",
    "wrap_volume",
    "xyz2i",
]

#: What a point outside the grid gets: an error, the nearest voxel of the grid, or NaN.
MODES = ("raise", "clip", "nan")

# --- the geometry in iblatlas' terms (xyz order: ml, ap, dv) ------------------------
#: Voxel size and direction along x, y, z in metres, as ``load_atlas`` passes ``dxyz``.
DXYZ = layout.RESOLUTION_UM / 1e6 * np.array([1, -1, -1])
#: Index of bregma along x, y, z (``iorigin`` of ``load_atlas``).
IORIGIN = np.array([layout.BREGMA_UM[ML], layout.BREGMA_UM[AP], layout.BREGMA_UM[DV]]) / (
    layout.RESOLUTION_UM
)
#: Coordinates of voxel (0, 0, 0) in metres, computed as ``BrainAtlas.__init__`` does.
XYZ0 = -(IORIGIN * DXYZ + 0.0)
#: Number of voxels along x, y, z.
NXYZ = np.array([GRID_SHAPE[0], GRID_SHAPE[2], GRID_SHAPE[1]])
#: Volume axis of each of x, y, z, and the reverse: (ml, dv, ap) volumes.
XYZ2DIMS = np.array([0, 2, 1])
DIMS2XYZ = np.array([0, 2, 1])
#: Volume dimension name of x, y, z.
_XYZ_DIMS = (ML, AP, DV)


def _check_xyz(xyz: Any) -> np.ndarray:
    points = np.asarray(xyz, dtype=np.float64)
    if points.shape == (3,):
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(
            f"Points must be an (n, 3) array of x, y, z in metres (ML, AP, DV from bregma), "
            f"got shape {np.shape(xyz)}."
        )
    return points


def _check_mode(mode: str, allowed: tuple[str, ...] = MODES) -> str:
    if mode not in allowed:
        raise ValueError(
            f"Unknown mode {mode!r}: choose one of {', '.join(map(repr, allowed))} "
            "(what a point outside the grid gets)."
        )
    return mode


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
    scaled = (points - XYZ0) / DXYZ
    index = np.round(np.where(finite[:, None], scaled, 0.0)).astype(np.int64)
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


# --- values and regions at points ----------------------------------------------------
def _grid_index(values: np.ndarray, axis: int, dim: str) -> np.ndarray:
    """Full-grid index of each coordinate value of ``dim`` (must lie on the AGEA grid)."""
    scaled = (np.asarray(values, dtype=np.float64) - XYZ0[axis]) / DXYZ[axis]
    index = np.round(scaled)
    if (
        not np.allclose(scaled, index, atol=1e-6)
        or (index < 0).any()
        or (index >= NXYZ[axis]).any()
    ):
        raise ValueError(
            f"The {dim!r} coordinate does not lie on the AGEA 200 um grid (metres from "
            "bregma): points can only be looked up in data on that grid, e.g. from "
            "agea_xr.open_dataset() or a selection of it."
        )
    return index.astype(np.int64)


def _positions(obj: xr.Dataset | xr.DataArray, points: np.ndarray, mode: str):
    """Positions along (ml, dv, ap) of ``obj`` of the voxel nearest to each point.

    Returns ``{dim: positions}`` and the boolean ``inside`` (False where the point
    falls outside ``obj``'s grid; positions are 0 there in mode ``nan``).
    """
    for dim in GRID_DIMS:
        if dim not in obj.dims:
            raise ValueError(
                f"Looking up points needs the {dim!r} dimension, which this object lacks "
                f"(dims {tuple(obj.dims)}): select ranges, not single planes."
            )
    finite = np.isfinite(points).all(axis=1)
    scaled = (points - XYZ0) / DXYZ
    full = np.round(np.where(finite[:, None], scaled, 0.0)).astype(np.int64)
    positions = {}
    inside = finite.copy()
    for axis, dim in enumerate(_XYZ_DIMS):
        available = _grid_index(obj[dim].values, axis, dim)
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
        whole = all(obj.sizes[d] == n for d, n in zip(GRID_DIMS, GRID_SHAPE, strict=True))
        where = "the AGEA grid" if whole else "this selection of the AGEA grid"
        if mode == "raise" or (mode == "clip" and not finite.all()):
            raise ValueError(_outside_message(points, ~inside, where))
    return positions, inside


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
    """Expression values at points: the voxel nearest to each point.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        A dataset (its ``expression`` is used) or any DataArray with the ``ml``,
        ``dv`` and ``ap`` dims on the AGEA grid (whole or a selection of it).
    xyz : array-like, shape (n, 3) or (3,)
        x, y, z in metres from bregma (IBL: x = ML right +, y = AP anterior +,
        z = DV dorsal +), as iblatlas takes them.
    mode : {"raise", "clip", "nan"}, default "raise"
        For points outside the grid: raise ``ValueError``, take the nearest voxel
        of the grid (iblatlas' ``clip``), or give NaN.

    Returns
    -------
    xarray.DataArray
        Dims ``("point", "experiment")`` (``("point", ...)`` for other arrays),
        lazy if the data are. Coordinates ``x``, ``y``, ``z`` (the points asked),
        ``ml``, ``dv``, ``ap`` (centre of the voxel used; NaN outside the grid in
        mode ``nan``), ``experiment`` and ``gene``.

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
    from .genes import expression_of

    _check_mode(mode)
    points = _check_xyz(xyz)
    data = expression_of(obj)
    positions, inside = _positions(data, points, mode)
    return _pointwise(data, positions, inside, points)


def region_at(
    obj: xr.Dataset | xr.DataArray, xyz: Any, mapping: str = "Allen", mode: str = "raise"
) -> xr.DataArray:
    """Region ids at points, as iblatlas ``BrainAtlas.get_labels(xyz, mapping, mode)``.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        See :func:`agea_xr.regions.label_of`.
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
    from .regions import brain_regions, check_mapping, label_of, region_ids

    mapping = check_mapping(mapping)
    _check_mode(mode)
    points = _check_xyz(xyz)
    label = label_of(obj)
    positions, inside = _positions(label, points, mode)
    picked = _pointwise(label, positions, inside, points)
    ids = np.where(inside, region_ids(np.asarray(picked.values), mapping), 0)
    br = brain_regions()
    order = np.argsort(br.id, kind="stable")
    acronyms = br.acronym[order[np.searchsorted(br.id[order], ids)]].astype(str)
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


# --- the iblatlas bridge -------------------------------------------------------------
def _whole_grid(da: xr.DataArray, what: str) -> None:
    if da.shape != GRID_SHAPE or any(
        not np.allclose(da[dim].values, values) for dim, values in layout.coords().items()
    ):
        raise ValueError(
            f"{what} covers {dict(da.sizes)}, not the whole AGEA grid "
            f"{dict(zip(GRID_DIMS, GRID_SHAPE, strict=True))} with its coordinates: an "
            "iblatlas BrainAtlas needs the whole grid. Use the dataset before selecting."
        )


def to_brain_atlas(obj: xr.Dataset | xr.DataArray):
    """An ``iblatlas.atlas.BrainAtlas`` of this grid, label and image.

    Built exactly as ``iblatlas.genomics.agea.load_atlas()`` builds it:
    ``dxyz = 200e-6 * [1, -1, -1]``, ``iorigin = bregma / 200``,
    ``dims2xyz = xyz2dims = [0, 2, 1]`` on the ``(ml, dv, ap)`` volumes, so every
    iblatlas tool (``get_labels``, ``slice``, ``plot_cslice``, ...) works on it.
    When the dataset has no ``image`` volume (the bundled sample has none), the
    atlas gets an all-zero float32 image of the grid's shape.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        The whole grid, with a label (see :func:`agea_xr.regions.label_of`).

    Returns
    -------
    iblatlas.atlas.BrainAtlas

    Raises
    ------
    ValueError
        Without a label volume, or for a selection smaller than the whole grid.

    Examples
    --------
    >>> import agea_xr
    >>> ba = to_brain_atlas(agea_xr.open_sample())
    >>> ba.get_labels([[2.0e-3, 1.0e-3, -3.5e-3], [0.0, 0.0, 0.0]], mapping="Beryl").tolist()
    [672, 0]
    """
    from iblatlas import atlas

    from .regions import brain_regions, label_of

    label = label_of(obj)
    _whole_grid(label, "The label volume")
    if isinstance(obj, xr.Dataset) and "image" in obj.variables:
        image_da = obj["image"].transpose(*GRID_DIMS)
        _whole_grid(image_da, "The image volume")
        image = np.asarray(image_da.values)
    else:
        image = np.zeros(GRID_SHAPE, dtype=np.float32)
    return atlas.BrainAtlas(
        image=image,
        label=np.asarray(label.values),
        dxyz=layout.RESOLUTION_UM / 1e6 * np.array([1, -1, -1]),
        regions=brain_regions(),
        iorigin=atlas.ALLEN_CCF_LANDMARKS_MLAPDV_UM["bregma"] / layout.RESOLUTION_UM
        + np.array([0, 0, 0]),
        dims2xyz=[0, 2, 1],
        xyz2dims=[0, 2, 1],
    )


def _grid_coords() -> dict[str, tuple]:
    return {
        dim: (dim, values, dict(layout.COORD_ATTRS[dim]))
        for dim, values in layout.coords().items()
    }


def wrap_volume(
    values: Any,
    name: str | None = None,
    dims: tuple[str, ...] | None = None,
    attrs: dict | None = None,
) -> xr.DataArray:
    """Label a numpy array on the AGEA grid with this package's dims and coordinates.

    For arrays that follow iblatlas' layout of the AGEA volumes: a row of the
    memmap of ``iblatlas.genomics.agea.load()``, a MERFISH volume of
    ``iblatlas.genomics.merfish``, ``BrainAtlas.label``... The array is not copied.

    Parameters
    ----------
    values : array-like, shape (..., 58, 41, 67)
        The last three axes are (ml, dv, ap).
    name : str, optional
        Name of the DataArray.
    dims : tuple of str, optional
        Names of the leading axes; default ``("experiment",)`` for one leading axis.
    attrs : dict, optional
        Attributes of the DataArray.

    Returns
    -------
    xarray.DataArray
        Dims ``(*dims, "ml", "dv", "ap")`` with the grid coordinates in metres.

    Raises
    ------
    ValueError
        If the last three axes are not the AGEA grid, or ``dims`` does not match.

    Examples
    --------
    >>> import numpy as np
    >>> wrap_volume(np.zeros((2, 58, 41, 67)), name="x").dims
    ('experiment', 'ml', 'dv', 'ap')
    """
    array = values if hasattr(values, "shape") and hasattr(values, "dtype") else np.asarray(values)
    if tuple(array.shape[-3:]) != GRID_SHAPE:
        raise ValueError(
            f"An array of shape {tuple(array.shape)} is not on the AGEA grid: its last three "
            f"axes must be (ml, dv, ap) = {GRID_SHAPE}. iblatlas' 25 um or 10 um volumes are "
            "another grid; an (ap, ml, dv) array needs np.transpose(a, (1, 2, 0)) first."
        )
    lead = array.ndim - 3
    if dims is None:
        dims = (layout.EXPERIMENT,) if lead == 1 else tuple(f"dim_{k}" for k in range(lead))
    dims = tuple(dims)
    if len(dims) != lead:
        raise ValueError(
            f"dims={dims!r} names {len(dims)} leading axes, but the array has {lead} "
            f"(shape {tuple(array.shape)})."
        )
    return xr.DataArray(
        array, dims=(*dims, *GRID_DIMS), coords=_grid_coords(), name=name, attrs=attrs or {}
    )


def from_brain_atlas(brain_atlas: Any) -> xr.Dataset:
    """The label and image of an iblatlas ``BrainAtlas`` on the AGEA grid, as a Dataset.

    Parameters
    ----------
    brain_atlas : iblatlas.atlas.BrainAtlas
        An atlas with the AGEA geometry, e.g. from
        ``iblatlas.genomics.agea.load_atlas()`` or :func:`to_brain_atlas`.

    Returns
    -------
    xarray.Dataset
        ``label`` (and ``image`` when the atlas has one), dims ``(ml, dv, ap)``,
        coordinates in metres from bregma; ``ds.agea`` region tools work on it.

    Raises
    ------
    ValueError
        If the atlas has another geometry (shape, voxel size, origin or axis order).

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> back = from_brain_atlas(to_brain_atlas(ds))
    >>> bool((back.label == ds.label).all())
    True
    """
    label = getattr(brain_atlas, "label", None)
    bc = getattr(brain_atlas, "bc", None)
    if label is None or bc is None:
        raise ValueError(
            f"Expected an iblatlas.atlas.BrainAtlas (with .label and .bc), got "
            f"{type(brain_atlas).__name__}."
        )
    same = (
        np.shape(label) == GRID_SHAPE
        and np.array_equal(np.asarray(brain_atlas.dims2xyz), DIMS2XYZ)
        and np.allclose(bc.dxyz, DXYZ)
        and np.allclose(np.array([bc.x0, bc.y0, bc.z0]), XYZ0, atol=1e-9)
    )
    if not same:
        raise ValueError(
            f"This BrainAtlas is not on the AGEA grid: label shape {np.shape(label)}, "
            f"dims2xyz {list(np.asarray(brain_atlas.dims2xyz))}, voxel {list(bc.dxyz)} m, "
            f"origin {[bc.x0, bc.y0, bc.z0]} m; the AGEA grid is {GRID_SHAPE} (ml, dv, ap), "
            f"dims2xyz [0, 2, 1], voxel {list(DXYZ)} m, origin {list(XYZ0)} m "
            "(iblatlas.genomics.agea.load_atlas())."
        )
    data_vars: dict[str, Any] = {
        "label": (
            GRID_DIMS,
            np.asarray(label),
            {"long_name": "brain region index into iblatlas BrainRegions (lateralised)"},
        )
    }
    image = getattr(brain_atlas, "image", None)
    if image is not None and np.shape(image) == GRID_SHAPE:
        data_vars["image"] = (
            GRID_DIMS,
            np.asarray(image),
            {"long_name": "Allen template image averaged onto the 200 um grid", "units": "1"},
        )
    return xr.Dataset(data_vars, coords=_grid_coords())
