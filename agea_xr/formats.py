"""The file formats agea-xr writes and reads back: names and the suffixes that select them."""

from __future__ import annotations

import os

from ._choices import check_choice

__all__ = ["DATASET_FORMATS", "FORMATS", "VIEWER_FORMATS", "format_of"]

#: Export formats and the path suffixes that select them (the longest matching suffix
#: wins: ``x.ome.zarr`` is OME-Zarr, ``x.zarr`` Zarr).
FORMATS = {
    "netcdf": (".nc", ".nc4", ".netcdf"),
    "zarr": (".zarr",),
    "ome-zarr": (".ome.zarr",),
    "nifti": (".nii", ".nii.gz"),
    "nrrd": (".nrrd",),
}
#: Formats that hold a whole dataset, which :func:`agea_xr.open_export` opens back.
DATASET_FORMATS = ("netcdf", "zarr")
#: Formats of volumes placed in space, for viewers (napari, neuroglancer, ITK-SNAP, Slicer).
VIEWER_FORMATS = ("ome-zarr", "nifti", "nrrd")


def format_of(path: str | os.PathLike, format: str | None = None) -> str:
    """The export format of a path: the one given, else from its suffix.

    Parameters
    ----------
    path : str or os.PathLike
        ``*.nc`` (also ``.nc4``, ``.netcdf``), ``*.zarr``, ``*.ome.zarr``,
        ``*.nii`` (``.nii.gz``) or ``*.nrrd``.
    format : {"netcdf", "zarr", "ome-zarr", "nifti", "nrrd"}, optional
        Wins over the suffix.

    Returns
    -------
    str
        A key of :data:`FORMATS`.

    Raises
    ------
    ValueError
        For an unknown format, or a suffix that names none.

    Examples
    --------
    >>> format_of("pdyn.nc"), format_of("atlas.zarr/"), format_of("x.bin", "zarr")
    ('netcdf', 'zarr', 'zarr')
    >>> format_of("pdyn.ome.zarr"), format_of("seed.nii.gz"), format_of("label.nrrd")
    ('ome-zarr', 'nifti', 'nrrd')
    """
    if format is not None:
        if format not in FORMATS:
            check_choice(format, tuple(FORMATS), "export format")
        return format
    name = str(path).rstrip("/").lower()
    matches = [
        (len(suffix), fmt)
        for fmt, suffixes in FORMATS.items()
        for suffix in suffixes
        if name.endswith(suffix)
    ]
    if matches:
        return max(matches)[1]
    raise ValueError(
        f"Cannot tell the export format of {str(path)!r} from its suffix: end it with .nc "
        "(netCDF), .zarr (Zarr), .ome.zarr (OME-Zarr), .nii or .nii.gz (NIfTI) or .nrrd "
        f"(NRRD), or pass format= one of {list(FORMATS)}."
    )
