"""The xarray backend engine ``agea``: a thin entry point over :func:`build_dataset`.

Kept cheap to import: xarray imports every engine's module when it lists them.
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

    Examples
    --------
    >>> import xarray as xr, agea_xr
    >>> ds = xr.open_dataset(agea_xr.sample_path(), engine="agea", chunks={})
    >>> ds.expression.chunks[0]
    (2,)
    """

    description = "Allen Gene Expression Atlas, IBL layout (gene-expression.bin + .pqt)"
    url = "https://github.com/agea-xr/agea-xr"
    open_dataset_parameters = (
        "filename_or_obj",
        "drop_variables",
        "variant",
        "mask",
        "storage_options",
    )

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        variant: str = "raw",
        mask: bool = True,
        storage_options: Mapping[str, Any] | None = None,
    ):
        """Open an AGEA folder; see :func:`agea_xr.open_dataset` for the parameters."""
        from .dataset import build_dataset

        if not isinstance(filename_or_obj, (str, os.PathLike)):
            raise TypeError(
                f"The agea engine opens a folder path or fsspec URL, not {filename_or_obj!r}."
            )
        ds = build_dataset(
            filename_or_obj, variant=variant, mask=mask, storage_options=storage_options
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
