"""The OME-Zarr writer of :func:`agea_xr.export`: NGFF images that viewers place in the CCF.

Each volume on the grid becomes one OME-Zarr (NGFF 0.5, written by ome-zarr-py)
multiscale image: float32 with NaN where nothing was measured (neuroglancer
has no float16), axes ``ml``, ``dv``, ``ap`` in micrometres with their
anatomical orientation, and a scale and translation that put each voxel
centre at its CCF position (:func:`agea_xr.spaces.ngff_axes`), at full
resolution and :data:`LEVELS` - 1 coarser levels (means of 2 and 4 voxels a
side over the measured voxels, placed at the centre of the voxels they
average). The region label volume goes with each image as the NGFF label
image ``labels/regions``: Allen structure ids (positive, as in Allen's
annotation volumes) with each region's colour, acronym and name in its
``image-label`` metadata; its coarser levels take every 2nd and 4th voxel.

A dataset gives one image per experiment (``<gene>_<experiment>``) and per
grid variable, in subgroups of the store; a single volume is written at the
store's root, where viewers open it directly.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..layout import EXPERIMENT, GRID_DIMS, nearest_index

__all__ = ["LABEL_NAME", "LEVELS", "grid_start", "images", "write_ome_zarr"]

#: Resolution levels written: 200, 400 and 800 µm.
LEVELS = 3
#: Name of the label image of the regions (``<image>/labels/regions``).
LABEL_NAME = "regions"


def grid_start(da: xr.DataArray) -> tuple[int, int, int]:
    """Whole-grid index of the first voxel along ml, dv, ap of a (cropped) grid array.

    Raises
    ------
    ValueError
        If a grid coordinate is missing, or its voxels are not consecutive voxels of
        the grid in the grid's order (a selection with gaps or re-sorted).
    """
    start = []
    for dim in GRID_DIMS:
        if dim not in da.coords:
            raise ValueError(
                f"Cannot place {da.name!r} in space: it has no {dim!r} coordinate. Export "
                "volumes of an AGEA dataset (with their ml, dv, ap coordinates in metres)."
            )
        index = nearest_index(da[dim].values, dim)
        if index.size and not np.array_equal(index, index[0] + np.arange(index.size)):
            raise ValueError(
                f"Cannot place {da.name!r} in space: its {dim!r} coordinates are not "
                "consecutive voxels of the grid in the grid's order (a selection with gaps, "
                f"or sorted otherwise). Select a contiguous range (crop=True, .isel with a "
                "slice) or reindex onto the grid's coordinates first."
            )
        start.append(int(index[0]) if index.size else 0)
    return tuple(start)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "image"


def images(ds: xr.Dataset) -> list[tuple[str, xr.DataArray]]:
    """The images to write: (name, ``(ml, dv, ap)`` DataArray) for each grid volume of ``ds``.

    Grid variables (``ml``, ``dv``, ``ap``) are one image each; variables with a
    leading ``experiment`` dimension give one image per experiment, named
    ``<gene>_<experiment>``. ``label`` is not an image: it is written as the
    label image of each.

    Raises
    ------
    ValueError
        For a variable with other dimensions.
    """
    out = []
    for name, var in ds.data_vars.items():
        if name == "label":
            continue
        extra = [d for d in var.dims if d not in GRID_DIMS]
        if set(var.dims) & set(GRID_DIMS) != set(GRID_DIMS) or extra not in ([], [EXPERIMENT]):
            raise ValueError(
                f"Cannot write {name!r} (dims {var.dims}) as OME-Zarr images: an image is "
                f"one volume over {GRID_DIMS}, optionally one per experiment. Select or "
                "reduce the other dimensions first (.sel, .isel, .mean), or export it to "
                "netCDF or Zarr."
            )
        var = var.transpose(*extra, *GRID_DIMS)
        if not extra:
            out.append((_safe(str(name)), var))
            continue
        genes = var["gene"].values if "gene" in var.coords else [None] * var.sizes[EXPERIMENT]
        for i, (experiment, gene) in enumerate(zip(var[EXPERIMENT].values, genes, strict=True)):
            label = f"{gene}_{experiment}" if gene is not None else f"{name}_{experiment}"
            out.append((_safe(label), var.isel({EXPERIMENT: i})))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):  # variables and experiments named alike
        out = [(f"{n}_{k}", da) for k, (n, da) in enumerate(out)]
    return out


def _transforms(
    start: tuple[int, int, int], factor: int, centred: bool, origin: str
) -> list[dict[str, Any]]:
    """NGFF scale and translation of one level: voxel centres in CCF (or bregma) µm."""
    from ..spaces import grid_ccf_um, ngff_axes

    _, (scale, translation) = ngff_axes(origin)
    # a coarse voxel averages `factor` fine ones: its centre lies (factor - 1) / 2 further
    shift = (factor - 1) / 2 if centred else 0.0
    return [
        {"type": "scale", "scale": [s * factor for s in scale["scale"]]},
        {
            "type": "translation",
            "translation": [
                float(t + grid_ccf_um(i + shift))
                for t, i in zip(translation["translation"], start, strict=True)
            ],
        },
    ]


def _mean_levels(volume: np.ndarray) -> list[np.ndarray]:
    """Full resolution, then means over 2, 4, ... voxels a side of the measured voxels."""
    da = xr.DataArray(volume, dims=GRID_DIMS)
    levels = [volume]
    for k in range(1, LEVELS):
        f = 2**k
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # blocks with nothing measured
            coarse = da.coarsen({d: f for d in GRID_DIMS}, boundary="pad").mean()
        levels.append(coarse.values.astype(np.float32))
    return levels


def _label_levels(label: np.ndarray) -> list[np.ndarray]:
    return [np.ascontiguousarray(label[:: 2**k, :: 2**k, :: 2**k]) for k in range(LEVELS)]


def _label_metadata(ids: np.ndarray) -> dict[str, Any]:
    """NGFF ``image-label`` colours and properties (acronym, name) of the ids present."""
    from ..bridge import brain_regions

    br = brain_regions()
    right = br.id >= 0
    rows = {int(i): k for k, i in zip(np.flatnonzero(right), br.id[right], strict=True)}
    colors, properties = [], []
    for value in np.unique(ids).tolist():
        k = rows[value]
        rgba = [*(int(c) for c in br.rgb[k]), 0 if value == 0 else 255]
        colors.append({"label-value": value, "rgba": rgba})
        properties.append(
            {"label-value": value, "acronym": str(br.acronym[k]), "name": str(br.name[k])}
        )
    # the image the labels belong to (ome-zarr's reader finds it through it)
    return {"colors": colors, "properties": properties, "source": {"image": "../../"}}


def _version(group: Any) -> str:
    """The NGFF version an image group was written with."""
    return str(group.attrs["ome"]["version"])


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (str, int, float, bool, list)) or value is None:
            out[str(key)] = value
        else:
            out[str(key)] = str(value)
    return out


def _pyramid(
    group: Any,
    levels: list[np.ndarray],
    axes: list[dict[str, Any]],
    start: tuple[int, int, int],
    centred: bool,
    origin: str,
    name: str,
) -> None:
    """Write the levels (ome-zarr), then their exact scale and translation.

    ome-zarr derives each level's scale from the shapes and writes no translation;
    its multiscales metadata is replaced by the exact transformations (a coarse
    voxel centred on the fine voxels it stands for, a cropped volume offset).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ome_zarr.writer import write_multiscale, write_multiscales_metadata

    integer = levels[0].dtype.kind in "iu"
    write_multiscale(
        levels,
        group,
        axes=axes,
        # one chunk a level; unwritten voxels read as missing (NaN) or void (0)
        storage_options=[
            {"chunks": lvl.shape, "fill_value": 0 if integer else np.nan} for lvl in levels
        ],
        name=name,
    )
    paths = [d["path"] for d in group.attrs["ome"]["multiscales"][0]["datasets"]]
    datasets = [
        {"path": path, "coordinateTransformations": _transforms(start, 2**k, centred, origin)}
        for k, path in enumerate(paths)
    ]
    write_multiscales_metadata(group, datasets, axes=axes, name=name)


def write_ome_zarr(ds: xr.Dataset, tmp: Path, *, origin: str, history: str | None) -> None:
    """Write ``ds`` as OME-Zarr images to the new store ``tmp``.

    Parameters
    ----------
    ds : xarray.Dataset
        What to write (a subset, as :func:`agea_xr.export.subset` gives), NaN for
        missing values; ``label`` (a variable or coordinate) becomes the label images.
    tmp : pathlib.Path
        The store to create (the temporary of :func:`agea_xr._files.safe_write`).
    origin : {"ccf", "bregma"}
        Positions in CCF µm (voxel 0 of the CCF at 0) or µm from bregma, along the
        CCF's directions (right, ventral, posterior positive).
    history : str or None
        What is written, for the ``history`` attribute.

    Raises
    ------
    ValueError
        For variables that are not volumes on the grid (see :func:`images`), or
        grid coordinates that are not a contiguous range of the grid.
    ImportError
        If ome-zarr is not installed.
    """
    import zarr

    with warnings.catch_warnings():
        # ome-zarr >= 0.14 warns at import about its own deprecated default (Scaler)
        warnings.simplefilter("ignore", DeprecationWarning)
        from ome_zarr.writer import write_label_metadata

    from ..conventions import history_entry
    from ..regions import region_ids
    from ..spaces import ngff_axes

    axes, _ = ngff_axes(origin)
    todo = images(ds)
    label = ds["label"].transpose(*GRID_DIMS) if "label" in ds.variables else None
    ids = None
    if label is not None:
        ids = region_ids(np.asarray(label.values), "Allen").astype(np.uint32)
        label_start = grid_start(label)
        label_meta = _label_metadata(ids)
        if not todo:  # the label volume alone: its Allen ids are the image
            todo = [(LABEL_NAME, label.copy(data=ids))]
    if not todo:
        raise ValueError(
            f"Nothing to write as OME-Zarr: the dataset has no volume over {GRID_DIMS} "
            f"(variables: {list(ds.data_vars)})."
        )
    common = {
        key: ds.attrs[key] for key in ("title", "citation", "source", "variant") if key in ds.attrs
    }
    entries = [history_entry(history)] if history else []
    if ds.attrs.get("history"):
        entries.append(str(ds.attrs["history"]))
    if entries:
        common["history"] = "\n".join(entries)
    root = zarr.open_group(str(tmp), mode="w-")
    single = len(todo) == 1
    if not single:
        root.attrs["agea_xr"] = _jsonable({**common, "images": [n for n, _ in todo]})
    for name, da in todo:
        group = root if single else root.create_group(name)
        start = grid_start(da)
        is_label = da.dtype.kind in "iu"
        if is_label:
            levels = _label_levels(np.asarray(da.values))
        else:
            levels = _mean_levels(np.asarray(da.values, dtype=np.float32))
        meta = {**common, **da.attrs, "name": name}
        for coord in (EXPERIMENT, "gene"):
            if coord in da.coords and da[coord].ndim == 0:
                meta[coord] = da[coord].values.item()
        _pyramid(group, levels, axes, start, not is_label, origin, name)
        group.attrs["agea_xr"] = _jsonable(meta)
        if ids is not None:
            regions = group.require_group(f"labels/{LABEL_NAME}")
            _pyramid(regions, _label_levels(ids), axes, label_start, False, origin, LABEL_NAME)
            write_label_metadata(group["labels"], LABEL_NAME, **label_meta)
            # ome-zarr writes the "labels" group without the version NGFF 0.5 requires
            labels = group["labels"]
            labels.attrs["ome"] = {"version": _version(group), **labels.attrs["ome"]}
