"""The other IBL volumes on the AGEA grid: MERFISH cell types and lipids.

:func:`open_cell_types` and :func:`open_lipids` open them as lazy Datasets with
the AGEA grid's coordinates, indexes and region label; :func:`open_atlas` puts
them beside the genes in one :class:`xarray.DataTree`. The facts of the files
are in :mod:`agea_xr.volumes_layout`.
"""

from __future__ import annotations

from .datasets import CHUNK_ITEMS, open_cell_types, open_lipids
from .summary import describe
from .tree import open_atlas

__all__ = ["CHUNK_ITEMS", "describe", "open_atlas", "open_cell_types", "open_lipids"]
