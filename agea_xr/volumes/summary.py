"""A few lines describing a cell-type or lipid Dataset (``agea-xr info --cell-types``)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import volumes_layout as vl

__all__ = ["describe"]


def describe(ds: xr.Dataset) -> str:
    """What :func:`agea_xr.open_cell_types` (or :func:`agea_xr.open_lipids`) opened, in words.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    str
        Level and variant, number of items (neuronal and not), dtype in memory
        and on disk, item volume size on disk, per-class counts (cell types),
        grid, source, citation and licence.

    Examples
    --------
    >>> import tempfile, agea_xr.testing as t
    >>> from agea_xr.volumes import open_cell_types
    >>> text = describe(open_cell_types(t.write_merfish(tempfile.mkdtemp(), ["class"]), "class"))
    >>> text.splitlines()[0]
    'MERFISH cell types, level class (raw): 8 types, 3 neuronal, 5 non-neuronal'
    """
    lines = []
    grid = " x ".join(f"{d} {ds.sizes[d]}" for d in ("ml", "dv", "ap"))
    if vl.CELL_TYPE in ds.dims:
        var = ds["density"]
        n = ds.sizes[vl.CELL_TYPE]
        non = int(np.count_nonzero(ds["non_neuronal"].values))
        lines.append(
            f"MERFISH cell types, level {ds.attrs.get('level')} ({ds.attrs.get('variant')}): "
            f"{n:,} types, {n - non:,} neuronal, {non:,} non-neuronal"
        )
        if "class" in ds.coords:
            classes = ds["class"].to_series().value_counts(sort=False)
            shown = ", ".join(f"{name or '(none)'}: {k}" for name, k in classes.items())
            lines.append(f"per class: {shown}")
    else:
        var = ds["intensity"]
        lines.append(f"Lipid Brain Atlas volumes: {ds.sizes[vl.LIPID]:,} lipids")
    stored = np.dtype(var.encoding.get("stored_dtype", var.dtype))
    volume_kb = stored.itemsize * int(np.prod([ds.sizes[d] for d in ("ml", "dv", "ap")]))
    lines.append(
        f"{var.name} {var.dims}, {var.dtype} ({stored} on disk, {volume_kb / 1000:,.0f} kB "
        "per item)"
    )
    lines.append(f"grid: {grid} voxels of {ds.attrs.get('voxel_size_um', 200.0):g} um")
    lines.append(f"source: {ds.attrs.get('source')}")
    lines.append(f"citation: {ds.attrs.get('citation')}")
    lines.append(f"license: {ds.attrs.get('license')}")
    return "\n".join(lines)
