"""The ``.agea`` accessor on Dataset and DataArray: one-line delegations.

Stateless and thin: every method forwards to a module-level function that
takes the xarray object (regions, points, plot, analysis, export), so the
same functionality is importable without the accessor. Accessors are rebuilt
for every new object; nothing is cached here.
"""

from __future__ import annotations

import xarray as xr

__all__ = ["AgeaAccessor", "AgeaDataArrayAccessor", "AgeaDatasetAccessor"]


class AgeaAccessor:
    """Methods shared by ``Dataset.agea`` and ``DataArray.agea``."""

    def __init__(self, obj: xr.Dataset | xr.DataArray) -> None:
        self._obj = obj

    # --- regions and genes (regions.py, genes.py) -----------------------------------

    # --- points and the iblatlas bridge (points.py, bridge) ---------------------------

    # --- pictures (plot.py) ---------------------------------------------------------

    # --- analyses (analysis.py) -----------------------------------------------------

    # --- export (export.py) ---------------------------------------------------------


@xr.register_dataset_accessor("agea")
class AgeaDatasetAccessor(AgeaAccessor):
    """``ds.agea``: AGEA tools on a Dataset opened by :func:`agea_xr.open_dataset`."""


@xr.register_dataarray_accessor("agea")
class AgeaDataArrayAccessor(AgeaAccessor):
    """``da.agea``: AGEA tools on a DataArray (e.g. ``ds.expression``)."""
