"""The NIfTI writer of :func:`agea_xr.export`: one volume with its affine (nibabel).

The array is written in the grid's ``(ml, dv, ap)`` order with the affine of
:meth:`agea_xr.spaces.Placement.affine`: voxel index to RAS+ millimetres, from
bregma (world = IBL xyz in mm) or from the CCF corner, in both the sform and
the qform (code "aligned"), units mm. Expression and result maps are float32
with NaN where nothing was measured; the label volume is int32 Allen structure
ids, with colour tables beside it (``.ctbl`` for 3D Slicer, ``.label.txt`` for
ITK-SNAP).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import xarray as xr

from ._volumes import colour_tables, description, placement, single_volume

__all__ = ["write_nifti"]


def write_nifti(
    ds: xr.Dataset, tmp: Path, *, origin: str, history: str | None, gz: bool
) -> dict[str, str]:
    """Write the one volume of ``ds`` as NIfTI-1 to ``tmp``.

    Parameters
    ----------
    ds : xarray.Dataset
        One grid volume (see :func:`agea_xr.export._volumes.single_volume`).
    tmp : pathlib.Path
        The file to create (the temporary of :func:`agea_xr._files.safe_write`).
    origin : {"bregma", "ccf"}
        World origin of the affine.
    history : str or None
        Unused beyond the description (NIfTI has 80 characters for it).
    gz : bool
        gzip the file (``*.nii.gz``).

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
    import nibabel as nib

    name, data, da, is_label = single_volume(ds, "NIfTI")
    affine = placement(da, "NIfTI export").affine(origin)
    image = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    image.header.set_xyzt_units("mm")
    image.set_sform(affine, code="aligned")
    image.set_qform(affine, code="aligned")
    text = ", ".join(f"{k}={v}" for k, v in description(da, name).items())
    image.header["descrip"] = text.encode("ascii", "replace")[:79]
    if is_label:
        image.header.set_intent("label")
    else:
        finite = data[np.isfinite(data)]
        if finite.size:  # the display range viewers start with
            image.header["cal_min"], image.header["cal_max"] = finite.min(), finite.max()
    raw = image.to_bytes()
    tmp.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return colour_tables(data) if is_label else {}
