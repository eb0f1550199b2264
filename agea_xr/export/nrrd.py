"""The NRRD writer of :func:`agea_xr.export`: one volume with its space directions (pynrrd).

The array is written in the grid's ``(ml, dv, ap)`` order (pynrrd's default
index order: the header's axes are the array's) with the header of
:func:`agea_xr.spaces.nrrd_header`: space ``right-anterior-superior``, space
directions and origin in millimetres from bregma or from the CCF corner, gzip
encoding. Expression and result maps are float32 with NaN where nothing was
measured; the label volume is int32 Allen structure ids, with colour tables
beside it (``.ctbl`` for 3D Slicer, ``.label.txt`` for ITK-SNAP).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ._volumes import colour_tables, description, placement, single_volume

__all__ = ["write_nrrd"]


def write_nrrd(ds: xr.Dataset, tmp: Path, *, origin: str, history: str | None) -> dict[str, str]:
    """Write the one volume of ``ds`` as NRRD to ``tmp``.

    Parameters
    ----------
    ds : xarray.Dataset
        One grid volume (see :func:`agea_xr.export._volumes.single_volume`).
    tmp : pathlib.Path
        The file to create (the temporary of :func:`agea_xr._files.safe_write`).
    origin : {"bregma", "ccf"}
        Where the space origin is counted from.
    history : str or None
        Kept as the ``history`` key/value field.

    Returns
    -------
    dict of str to str
        Files to write beside it (suffix -> text): colour tables for a label volume.

    Raises
    ------
    ValueError
        For several volumes or none, or grid coordinates that are not a contiguous
        range of the grid.
    """
    import nrrd

    from ..spaces import nrrd_header

    name, data, da, is_label = single_volume(ds, "NRRD")
    header = nrrd_header(origin, placement(da, "NRRD export"))
    header["encoding"] = "gzip"
    header["content"] = name
    # key/value pairs ("key:=value"): what the volume is
    fields = {f"agea_xr_{k}": str(v) for k, v in description(da, name).items()}
    if history:
        fields["agea_xr_history"] = history
    header.update(fields)
    nrrd.write(str(tmp), np.ascontiguousarray(data), header)
    return colour_tables(data) if is_label else {}
