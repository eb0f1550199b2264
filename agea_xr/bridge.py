"""The iblatlas bridge: the only module that imports iblatlas.

Everything that touches an iblatlas object goes through here: the process-wide
:class:`iblatlas.regions.BrainRegions` (:func:`brain_regions`), the label volume
of a dataset (:func:`label_of`, indices into that table), and the conversions
between this package's xarray objects and ``iblatlas.atlas.BrainAtlas``
(:func:`to_brain_atlas`, :func:`from_brain_atlas`) or the numpy arrays of
``iblatlas.genomics`` (:func:`wrap_volume`). iblatlas is imported inside the
functions that need it, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import xarray as xr

from . import layout
from .conventions import attributes
from .grid_index import set_grid_indexes
from .layout import DIMS2XYZ, DXYZ, GRID_DIMS, GRID_SHAPE, IORIGIN, XYZ0, XYZ2DIMS
from .release import check_label

__all__ = [
    "brain_regions",
    "from_brain_atlas",
    "label_of",
    "to_brain_atlas",
    "wrap_volume",
]


@functools.cache
def brain_regions():
    """The process-wide :class:`iblatlas.regions.BrainRegions` (built once, offline).

    Returns
    -------
    iblatlas.regions.BrainRegions
        Its ``id`` has :data:`agea_xr.layout.N_BRAIN_REGIONS` rows; a label volume
        holds indices into them.
    """
    from iblatlas.regions import BrainRegions

    return BrainRegions()


def label_of(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """The region label volume of a dataset or of a DataArray that carries it.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        A Dataset with a ``label`` variable (``label.npy``), or a DataArray with a
        ``label`` coordinate (e.g. the result of ``ds.agea.gene(...)``).

    Returns
    -------
    xarray.DataArray
        Integer indices into ``BrainRegions().id``, dims ``(ml, dv, ap)``.

    Raises
    ------
    ValueError
        If there is no label (the message tells how to get one), or it is not an
        integer volume of indices ``0 <= label < N_BRAIN_REGIONS`` (Allen structure
        ids instead of indices are named as such; see
        :func:`agea_xr.release.check_label`).

    Examples
    --------
    >>> import agea_xr
    >>> label_of(agea_xr.open_sample()).dims
    ('ml', 'dv', 'ap')
    """
    if isinstance(obj, xr.Dataset):
        if "label" not in obj.variables:
            raise ValueError(
                "This dataset has no 'label' volume (label.npy), so it has no brain regions: "
                "open a release folder that holds label.npy (agea_xr.download() fetches it)."
            )
        label = obj["label"]
    elif "label" in obj.coords:
        label = obj.coords["label"]
    elif obj.name == "label" and obj.dtype.kind in "iu":
        label = obj  # the label volume itself (ds.label)
    else:
        name = obj.name if obj.name is not None else "this DataArray"
        raise ValueError(
            f"{name!r} has no 'label' coordinate, and brain regions need the label volume. "
            "Call the method on the Dataset instead (e.g. ds.agea.region_mask('CA1')), or "
            "attach the label first: da.assign_coords(label=ds.label)."
        )
    if label.dtype.kind not in "iu":
        raise ValueError(
            f"The label volume has dtype {label.dtype}: it must hold integer indices into "
            "iblatlas BrainRegions().id (label.npy)."
        )
    missing = [d for d in GRID_DIMS if d not in label.dims]
    if missing:
        raise ValueError(
            f"The label volume has dims {label.dims}, without {missing}: region tools need "
            f"the three spatial dims {GRID_DIMS} (select ranges, not single planes)."
        )
    label = label.reset_coords(drop=True).transpose(*GRID_DIMS)
    if label.chunks is not None:
        # a small volume (300 kB), needed here: read here, not sent through a cluster
        # and back on every call (open_dataset holds it in memory, chunked)
        label = label.compute(scheduler="synchronous")
    check_label(label.values, "The label volume")
    return label


# --- BrainAtlas -----------------------------------------------------------------------
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
        The whole grid, with a label (see :func:`label_of`).

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
        dxyz=DXYZ.copy(),
        regions=brain_regions(),
        iorigin=IORIGIN.copy(),
        dims2xyz=DIMS2XYZ.tolist(),
        xyz2dims=XYZ2DIMS.tolist(),
    )


def _grid_coords() -> dict[str, tuple]:
    """The grid coordinates as a dataset has them (their GridIndex is set afterwards)."""
    return {dim: (dim, values, attributes(dim)) for dim, values in layout.coords().items()}


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
    wrapped = xr.DataArray(
        array, dims=(*dims, *GRID_DIMS), coords=_grid_coords(), name=name, attrs=attrs or {}
    )
    return set_grid_indexes(wrapped)


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
        If the atlas has another geometry (shape, voxel size, origin or axis order),
        another region table than ``BrainRegions()``, or a label that is not integer
        indices into it.

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
    regions = getattr(brain_atlas, "regions", None)
    ids = getattr(regions, "id", None)
    if ids is None or not np.array_equal(ids, brain_regions().id):
        raise ValueError(
            f"This BrainAtlas' regions ({type(regions).__name__}) are not iblatlas' "
            "BrainRegions(), so its label indexes another table: the AGEA label holds indices "
            "into BrainRegions().id (iblatlas.genomics.agea.load_atlas())."
        )
    if np.asarray(label).dtype.kind not in "iu":
        raise ValueError(
            f"This BrainAtlas' label has dtype {np.asarray(label).dtype}: it must hold "
            "integer indices into BrainRegions().id."
        )
    check_label(np.asarray(label), "This BrainAtlas' label")
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
    return set_grid_indexes(xr.Dataset(data_vars, coords=_grid_coords()))
