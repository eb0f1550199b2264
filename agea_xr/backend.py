"""The xarray backend engine ``agea``: a thin entry point over :func:`build_dataset`.

Kept cheap to import: xarray imports every engine's module when it lists them,
so this module imports only xarray's backend base class and the release layout.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from xarray.backends import BackendEntrypoint

from .layout import TABLE_FILE, VARIANTS

__all__ = ["AgeaBackendEntrypoint"]


class AgeaBackendEntrypoint(BackendEntrypoint):
    """Open a folder in the IBL AGEA layout with ``xr.open_dataset(..., engine="agea")``.

    xarray's decoding keywords work as they do for netCDF: ``mask_and_scale=False``
    (or ``decode_cf=False``) gives the stored float16 values with ``-1`` for "no
    measurement"; the time and character decoders have nothing to decode here and
    are accepted and ignored.

    Examples
    --------
    >>> import xarray as xr, agea_xr
    >>> ds = xr.open_dataset(agea_xr.sample_path(), engine="agea", chunks={})
    >>> ds.expression.chunks[0]
    (2,)
    >>> xr.open_dataset(agea_xr.sample_path(), engine="agea", decode_cf=False).expression.dtype
    dtype('float16')
    """

    description = "Allen Gene Expression Atlas, IBL layout (gene-expression.bin + .pqt)"
    url = "https://github.com/agea-xr/agea-xr"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "mask_and_scale",
        "decode_times",
        "concat_characters",
        "decode_coords",
        "use_cftime",
        "decode_timedelta",
        "variant",
        "storage_options",
    )

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        mask_and_scale: bool | None = None,
        decode_times: bool | None = None,
        concat_characters: bool | None = None,
        decode_coords: bool | str | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: bool | None = None,
        variant: str = "raw",
        storage_options: Mapping[str, Any] | None = None,
    ):
        """Open an AGEA folder; see :func:`agea_xr.open_dataset` for the parameters.

        ``mask_and_scale=None`` (xarray's default) means True. ``decode_times``,
        ``concat_characters``, ``decode_coords``, ``use_cftime`` and
        ``decode_timedelta`` are accepted for xarray's sake; an AGEA release has no
        times, character arrays or CF bounds to decode.
        """
        from .dataset import build_dataset

        if not isinstance(filename_or_obj, (str, os.PathLike)):
            raise TypeError(
                f"The agea engine opens a folder path or fsspec URL, not {filename_or_obj!r}."
            )
        ds = build_dataset(
            filename_or_obj,
            variant=variant,
            mask_and_scale=True if mask_and_scale is None else mask_and_scale,
            storage_options=storage_options,
        )
        if drop_variables is not None:
            ds = ds.drop_vars(drop_variables, errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Claim only a local folder holding ``gene-expression.bin`` and ``.pqt``."""
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        path = os.fspath(filename_or_obj)
        if "://" in path or not os.path.isdir(path):
            return False
        return os.path.isfile(os.path.join(path, TABLE_FILE)) and os.path.isfile(
            os.path.join(path, VARIANTS["raw"])
        )
