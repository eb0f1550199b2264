"""The file formats agea-xr writes and reads back: names and the suffixes that select them."""

from __future__ import annotations

import os

__all__ = ["FORMATS", "format_of"]

#: Export formats and the path suffixes that select them.
FORMATS = {"netcdf": (".nc", ".nc4", ".netcdf"), "zarr": (".zarr",)}


def format_of(path: str | os.PathLike, format: str | None = None) -> str:
    """The export format of a path: the one given, else from its suffix.

    Parameters
    ----------
    path : str or os.PathLike
        ``*.nc`` (also ``.nc4``, ``.netcdf``) or ``*.zarr``.
    format : {"netcdf", "zarr"}, optional
        Wins over the suffix.

    Returns
    -------
    str
        ``"netcdf"`` or ``"zarr"``.

    Raises
    ------
    ValueError
        For an unknown format, or a suffix that names none.

    Examples
    --------
    >>> format_of("pdyn.nc"), format_of("atlas.zarr/"), format_of("x.bin", "zarr")
    ('netcdf', 'zarr', 'zarr')
    """
    if format is not None:
        if format not in FORMATS:
            raise ValueError(f"Unknown export format {format!r}: choose one of {list(FORMATS)}.")
        return format
    name = str(path).rstrip("/").lower()
    for fmt, suffixes in FORMATS.items():
        if name.endswith(suffixes):
            return fmt
    raise ValueError(
        f"Cannot tell the export format of {str(path)!r} from its suffix: end it with .nc "
        "(netCDF) or .zarr (Zarr), or pass format='netcdf' or format='zarr'."
    )
