"""Brain regions: mappings, region ids, tables, masks and hemispheres of a label volume.

All region knowledge comes from :class:`iblatlas.regions.BrainRegions`, which
ships its tables and works offline; :mod:`agea_xr.bridge` builds it once per
process (:func:`agea_xr.bridge.brain_regions`) and reads the label volume of a
dataset (:func:`agea_xr.bridge.label_of`).

Conventions (those of iblatlas): a *label* volume holds **indices** into
``BrainRegions().id`` (0 = void); a *region id* is an Allen structure id,
negative in the left hemisphere for lateralised (``-lr``) mappings. A mapping
name (``Allen``, ``Beryl``, ``Cosmos``, ``Swanson``, each also ``-lr``) turns
an index into the index of the region it belongs to at that level. Hemispheres
are decided by position, never by the sign of an id: left is x < 0
(:func:`is_left`, :func:`hemisphere_mask`).
"""

from __future__ import annotations

from ..bridge import brain_regions, label_of
from ._hemispheres import HEMISPHERES, hemisphere_mask, is_left
from ._ids import (
    MAPPINGS,
    check_mapping,
    index_of_ids,
    label_from_allen_ids,
    region_ids,
    region_indices,
    region_table,
)
from ._masks import region_mask, region_volume, resolve_regions, sel_region

__all__ = [
    "HEMISPHERES",
    "MAPPINGS",
    "brain_regions",
    "check_mapping",
    "hemisphere_mask",
    "index_of_ids",
    "is_left",
    "label_from_allen_ids",
    "label_of",
    "region_ids",
    "region_indices",
    "region_mask",
    "region_table",
    "region_volume",
    "resolve_regions",
    "sel_region",
]
