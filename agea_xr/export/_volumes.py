"""What the single-volume writers (NIfTI, NRRD) share: the volume, its placement, colour tables.

A NIfTI or NRRD file holds one volume: the dataset's one grid volume (a gene,
an experiment, a result map) as float32 with NaN for missing values, or, when
the label volume is all there is, its Allen structure ids (positive, as in
Allen's annotation volumes) with colour tables beside it for ITK-SNAP and 3D
Slicer. Where the voxels lie comes from :mod:`agea_xr.spaces`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..layout import GRID_DIMS, RESOLUTION_UM
from .ome_zarr import grid_start, images

__all__ = ["colour_tables", "placement", "single_volume"]


def single_volume(ds: xr.Dataset, what: str) -> tuple[str, np.ndarray, xr.DataArray, bool]:
    """The one volume of ``ds`` to write: name, ``(ml, dv, ap)`` array, its DataArray, is_label.

    Raises
    ------
    ValueError
        If ``ds`` holds several volumes (several experiments, variables) or none.
    """
    todo = images(ds)
    if len(todo) > 1:
        names = ", ".join(name for name, _ in todo[:6]) + (", ..." if len(todo) > 6 else "")
        raise ValueError(
            f"A {what} file holds one volume, and this selection has {len(todo)} ({names}). "
            "Export one: a gene's mean (ds.agea.gene('Pdyn')), one experiment "
            "(ds.expression.sel(experiment=ID)) or one variable, or export to OME-Zarr "
            "(*.ome.zarr), which holds one image per experiment."
        )
    if todo:
        name, da = todo[0]
        return name, np.asarray(da.values, dtype=np.float32), da, False
    if "label" in ds.variables:
        from ..regions import region_ids

        label = ds["label"].transpose(*GRID_DIMS)
        ids = region_ids(np.asarray(label.values), "Allen").astype(np.int32)
        label = label.copy(data=ids)
        label.attrs = {"long_name": "Allen structure id (CCFv3 annotation, both hemispheres)"}
        return "regions", ids, label, True
    raise ValueError(
        f"Nothing to write as {what}: the dataset has no volume over {GRID_DIMS} "
        f"(variables: {list(ds.data_vars)})."
    )


def placement(da: xr.DataArray, how: str):
    """The :class:`agea_xr.spaces.Placement` of a (possibly cropped) ``(ml, dv, ap)`` array."""
    from ..spaces import Placement, grid_ccf_um

    start = grid_ccf_um(grid_start(da))
    shape = tuple(int(da.sizes[d]) for d in GRID_DIMS)
    return Placement(GRID_DIMS, (RESOLUTION_UM,) * 3, tuple(map(float, start)), shape, how)


def _regions(ids: np.ndarray) -> list[tuple[int, str, str, tuple[int, int, int]]]:
    from ..bridge import brain_regions

    br = brain_regions()
    right = np.flatnonzero(br.id >= 0)
    rows = {int(br.id[k]): k for k in right}
    out = []
    for value in np.unique(ids).tolist():
        k = rows[value]
        rgb = tuple(int(c) for c in br.rgb[k])
        out.append((value, str(br.acronym[k]), str(br.name[k]), rgb))
    return out


def colour_tables(ids: np.ndarray) -> dict[str, str]:
    """Colour tables of the regions in ``ids``, for 3D Slicer and ITK-SNAP.

    Returns
    -------
    dict of str to str
        Suffix of the file beside the volume -> its text. Slicer's colour table
        (``id name r g b a``, the FreeSurfer form Slicer reads) names each region by
        its acronym; ITK-SNAP's label description gives acronym and name.
    """
    regions = _regions(ids)
    slicer = ["# Allen CCFv3 regions (agea-xr): id acronym r g b a"]
    itk = [
        "# ITK-SnAP Label Description File: Allen CCFv3 regions (agea-xr)",
        "#    IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
    ]
    for value, acronym, name, (r, g, b) in regions:
        alpha = 0 if value == 0 else 255
        slicer.append(f"{value} {acronym.replace(' ', '_')} {r} {g} {b} {alpha}")
        label = f"{acronym}: {name}".replace('"', "'")
        visible = 0 if value == 0 else 1
        itk.append(
            f'{value:>8} {r:>5} {g:>4} {b:>4} {alpha / 255:>5.0f} {visible:>3} 1  "{label}"'
        )
    return {".ctbl": "\n".join(slicer) + "\n", ".label.txt": "\n".join(itk) + "\n"}


def description(da: xr.DataArray, name: str) -> dict[str, Any]:
    """Short text fields: what the volume is (gene, experiment, variable)."""
    out: dict[str, Any] = {"name": name}
    for coord in ("gene", "experiment"):
        if coord in da.coords and da[coord].ndim == 0:
            out[coord] = da[coord].values.item()
    for key in ("long_name", "units"):
        if key in da.attrs:
            out[key] = da.attrs[key]
    return out
