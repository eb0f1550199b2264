""":func:`read_map`: a user's volume (file, array or DataArray) onto the AGEA grid."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice
from ..bridge import wrap_volume
from ..conventions import attributes
from ..layout import GRID_DIMS, GRID_SHAPE, RESOLUTION_UM, coords
from ..spaces import (
    CCF_SHAPES,
    GRID_ORIENTATION,
    Placement,
    allen_layout,
    other_space_message,
)
from ._files import read_file, stem
from ._resample import KINDS, to_grid

__all__ = ["read_map"]

_KIND_HINT = (
    "('continuous': the mean of the finer voxels; 'labels': their most frequent region id; "
    "'mask': a boolean map, True where at least half of the voxel is True; None: 'mask' "
    "for a boolean map, else 'continuous')."
)
_RESAMPLING = {
    "continuous": "mean of the finite finer voxels whose centres lie in the 200 um voxel",
    "labels": "most frequent label of the finer voxels (ties: the smallest id)",
    "mask": "True where at least half of the finer voxels are True",
}


def _on_grid(obj: xr.DataArray) -> xr.DataArray:
    missing = [d for d in GRID_DIMS if d not in obj.dims]
    if missing or obj.ndim != 3:
        raise ValueError(
            f"A DataArray map must have exactly the dims {GRID_DIMS} of the AGEA grid; this "
            f"one has {tuple(obj.dims)}. Select one volume (e.g. .sel(gene=...)) or pass a "
            "numpy array with resolution_um= and orientation=."
        )
    grid = coords()
    for dim in GRID_DIMS:
        values = np.asarray(obj[dim].values, dtype=np.float64)
        if values.shape != grid[dim].shape or not np.allclose(values, grid[dim], atol=1e-9):
            raise ValueError(
                f"The DataArray's {dim!r} coordinate is not the whole AGEA grid (metres from "
                "bregma, as open_dataset gives it): a map must cover the grid; pad a "
                "selection back with .reindex_like(ds.label)."
            )
    return obj.transpose(*GRID_DIMS)


def _placement_of_array(
    shape: tuple[int, ...], resolution_um: Any, orientation: str | None
) -> Placement:
    if len(shape) != 3:
        raise ValueError(f"A map is a 3-D volume; this array has shape {shape}.")
    if resolution_um is None:
        raise ValueError(
            f"An array of shape {shape} carries no geometry: pass resolution_um= (10, 25, "
            "50, 100 or 200, the CCF resolution in micrometres) and orientation= "
            "(brainglobe-space letters, e.g. 'asl' for Allen's (ap, dv, ml) files, 'lsa' for "
            "the AGEA grid's (ml, dv, ap))."
        )
    res = np.broadcast_to(np.asarray(resolution_um, dtype=np.float64), (3,))
    if orientation is None:
        if tuple(shape) == GRID_SHAPE and np.allclose(res, RESOLUTION_UM):
            return Placement.grid()
        allen = allen_layout(shape, res)
        if allen is None:
            raise ValueError(
                f"An array of shape {shape} at {res.tolist()} um is not a whole CCF volume in "
                "Allen's layout (ap, dv, ml): pass orientation= (brainglobe-space letters of "
                "its axes, e.g. 'asr' for BrainGlobe's atlases)."
            )
        return allen
    unknown = sorted({float(r) for r in res if round(r) not in CCF_SHAPES or r != round(r)})
    if unknown:
        raise ValueError(
            other_space_message(
                f"resolution_um={unknown} is not a resolution of the Allen CCFv3: an array "
                f"needs one of {sorted(CCF_SHAPES)} um (or a file whose header places it)."
            )
        )
    placement = Placement.from_orientation(orientation, res, shape)
    expected = tuple(
        CCF_SHAPES[round(r)][("ap", "dv", "ml").index(dim)] if round(r) in CCF_SHAPES else -1
        for dim, r in zip(placement.dims, res, strict=True)
    )
    if expected != tuple(shape):
        raise ValueError(
            other_space_message(
                f"An array in orientation {orientation!r} at {res.tolist()} um must be a whole "
                f"CCF volume of shape {expected}; it has shape {shape}."
            )
        )
    return placement


def _default_kind(data: Any) -> str:
    """``"mask"`` for a boolean volume or integers that are all 0 or 1, else continuous.

    NIfTI and NRRD have no boolean type: a region drawn by hand is saved as 0/1 uint8.
    """
    if data.dtype == bool:
        return "mask"
    if np.dtype(data.dtype).kind in "iu" and data.size and data.min() >= 0 and data.max() <= 1:
        return "mask"
    return "continuous"


def read_map(
    source: str | os.PathLike | np.ndarray | xr.DataArray,
    *,
    kind: str | None = None,
    resolution_um: float | None = None,
    orientation: str | None = None,
    origin: str = "auto",
    name: str | None = None,
) -> xr.DataArray:
    """A volume of the mouse brain in the Allen CCFv3, onto the AGEA 200 µm grid.

    The file's own geometry places it (a NIfTI affine, NRRD space directions, a
    MetaImage header, OME-Zarr axes and scales); Allen's own files, whose headers carry
    no usable orientation, are recognised by their shape (:func:`agea_xr.spaces.allen_layout`);
    arrays and TIFF stacks are placed by ``resolution_um`` and ``orientation``
    (brainglobe-space letters). Orientation changes go through brainglobe-space, every
    geometric fact through :mod:`agea_xr.spaces`. Each 200 µm voxel then gets the mean of
    the finite finer voxels whose centres lie in it (NaN-aware; the fraction of the voxel
    they cover is kept as the ``coverage`` coordinate), or their most frequent label. A
    map already on the grid passes through unchanged.

    Parameters
    ----------
    source : str, os.PathLike, numpy.ndarray or xarray.DataArray
        A file (``.nii``/``.nii.gz``, ``.nrrd``/``.nhdr``, ``.mhd`` + ``.raw``,
        ``.ome.zarr``/``.zarr``, ``.tif``/``.tiff``, ``.npy``), an array, or a DataArray
        already on the grid (returned as it is, transposed to ``(ml, dv, ap)``).
    kind : {None, "continuous", "labels", "mask"}, default None
        ``"continuous"``: mean of the finer voxels; ``"labels"``: integer region ids,
        their mode (ties: the smallest id); ``"mask"``: boolean, True where at least half
        of the finer voxels are. None: ``"mask"`` for a boolean volume or an integer one
        holding only 0 and 1 (a region saved as uint8), else ``"continuous"``.
    resolution_um : float or sequence of 3 floats, optional
        Voxel size of an array, a TIFF stack or an ``.npy`` file (10, 25, 50, 100, 200).
    orientation : str, optional
        brainglobe-space origin letters of the array's axes: ``"asl"`` for Allen's CCF
        files as read (ap, dv, ml), ``"asr"`` for BrainGlobe's ``allen_mouse`` atlases,
        ``"lsa"`` for the grid. For files, overrides the header (the volume must then be
        a whole CCF volume). Default: the file's geometry, or Allen's layout when the
        array has its shape.
    origin : {"auto", "bregma", "ccf"}, default "auto"
        World origin of a NIfTI/NRRD/MetaImage affine (RAS+): bregma (IBL xyz) or the
        CCF corner; ``"auto"`` picks the one that puts the volume inside the CCF.
    name : str, optional
        Name of the result (default: the file's name, or the DataArray's).

    Returns
    -------
    xarray.DataArray
        ``(ml, dv, ap)`` on the AGEA grid: float32 (NaN where no finer voxel is finite),
        the source's integer dtype for labels (0 where none is inside), bool for masks;
        coordinate ``coverage`` (float32, 0 to 1). Attributes record the source, its
        format, orientation, resolution and how it was placed and resampled.

    Raises
    ------
    ValueError
        For a volume that is not in the CCF (another space, an oblique affine, a voxel
        size that does not divide 200 µm: the message names BrainGlobe's registration
        tools), a missing ``resolution_um``/``orientation``, an ambiguous origin, or a
        bad ``kind``.
    FileNotFoundError
        If the file does not exist.
    ImportError
        If the format's library is not installed (``pip install 'agea-xr[maps]'``).

    Examples
    --------
    >>> import numpy as np
    >>> fine = np.zeros((264, 160, 228), dtype=np.float32)   # 50 um, Allen's (ap, dv, ml)
    >>> fine[:, :, 114:] = 1.0                               # the right hemisphere
    >>> m = read_map(fine, resolution_um=50)
    >>> m.dims, float(m.isel(ml=28).mean()), float(m.isel(ml=29).mean())
    (('ml', 'dv', 'ap'), 0.0, 1.0)
    """
    kind = check_choice(kind, (None, *KINDS), "kind", _KIND_HINT)
    if isinstance(source, xr.DataArray):
        return _on_grid(source)
    attrs: dict[str, Any] = {}
    if isinstance(source, (str, os.PathLike)):
        data, placement, fmt = read_file(source, orientation, origin)
        attrs.update(source=os.fspath(source), format=fmt)
        name = name or stem(source)
        if orientation is not None and fmt != "ome-zarr":
            res = resolution_um if resolution_um is not None else placement.resolution_um
            placement = _placement_of_array(data.shape, res, orientation)
        elif placement is None:
            placement = _placement_of_array(data.shape, resolution_um, orientation)
    else:
        data = source if hasattr(source, "shape") and hasattr(source, "dtype") else None
        data = np.asarray(source) if data is None else data
        placement = _placement_of_array(tuple(data.shape), resolution_um, orientation)
        attrs.update(source="array", format="numpy")
    if not placement.fits():
        raise ValueError(
            other_space_message(f"Placed by {placement.how}, it lies outside the CCF box.")
        )
    placement.check_midline()
    if np.dtype(data.dtype).kind not in "biuf":
        raise TypeError(
            f"The map holds {data.dtype} values, not numbers: read_map needs a numeric or "
            "boolean volume (convert it first, e.g. array.astype('float32'))."
        )
    kind = kind or _default_kind(data)
    values, coverage = to_grid(data, placement, "labels" if kind == "labels" else "continuous")
    if kind == "mask":
        values = np.nan_to_num(values, nan=0.0) >= 0.5
    attrs.update(
        kind=kind,
        orientation=placement.orientation,
        resolution_um=list(placement.resolution_um),
        placed_by=placement.how,
        resampling="none (on the grid)" if placement.on_grid() else _RESAMPLING[kind],
        grid_orientation=GRID_ORIENTATION,
    )
    out = wrap_volume(values, name=name, dims=(), attrs=attrs)
    return out.assign_coords(coverage=(GRID_DIMS, coverage, attributes("coverage")))
