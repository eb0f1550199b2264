"""Voxel selections of the analyses: hemispheres by position, region or boolean masks.

The one place inside :mod:`agea_xr.analysis` for hemisphere-by-position and
Allen id -> ``BrainRegions`` position lookups, until :mod:`agea_xr.regions`
owns them for the whole package (``regions.is_left``,
``regions.hemisphere_mask``, ``regions.index_of_ids``); these functions have
the same names and meaning, so switching is an import.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice
from ..layout import GRID_DIMS, ML
from ..regions import brain_regions, label_of, region_mask

__all__ = [
    "HEMISPHERE_CHOICES",
    "describe",
    "hemisphere_mask",
    "index_of_ids",
    "is_left",
    "selection_mask",
]

#: Hemisphere choices of the voxel selections (None: both hemispheres).
HEMISPHERE_CHOICES = (None, "left", "right")
_HINT = "Left is x < 0 (ML), right x > 0, None both."


def is_left(label: xr.DataArray) -> np.ndarray:
    """Left-hemisphere voxels (x < 0), broadcast to the label's shape ``(ml, dv, ap)``."""
    left = np.asarray(label[ML].values) < 0
    return np.broadcast_to(left[:, None, None], label.shape)


def hemisphere_mask(label: xr.DataArray, hemisphere: str | None) -> np.ndarray:
    """Voxels of one hemisphere, decided by position, shape of the label ``(ml, dv, ap)``.

    Raises
    ------
    ValueError
        For a hemisphere other than None, "left", "right".
    """
    check_choice(hemisphere, HEMISPHERE_CHOICES, "hemisphere", _HINT)
    if hemisphere is None:
        return np.ones(label.shape, dtype=bool)
    left = is_left(label)
    return left if hemisphere == "left" else ~left


def index_of_ids(ids: np.ndarray) -> np.ndarray:
    """Positions in ``BrainRegions().id`` of Allen structure ids (signed, all known)."""
    br = brain_regions()
    order = np.argsort(br.id, kind="stable")
    return order[np.searchsorted(br.id[order], np.asarray(ids))]


def describe(spec: Any) -> str:
    """A selection in words: acronyms joined by ``+``, or ``mask``."""
    if isinstance(spec, (xr.DataArray, np.ndarray)):
        return "mask"
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Iterable):
        return "+".join(map(str, spec))
    return str(spec)


def selection_mask(
    ds: xr.Dataset, spec: Any, mapping: str, hemisphere: str | None, what: str
) -> np.ndarray:
    """A boolean ``(ml, dv, ap)`` numpy volume from acronyms/ids or a boolean volume.

    ``spec`` None means every labelled (non-void) voxel.

    Raises
    ------
    ValueError
        For a boolean volume of the wrong shape or dtype, or an unknown hemisphere.
    KeyError
        For an unknown region acronym.
    """
    check_choice(hemisphere, HEMISPHERE_CHOICES, "hemisphere", _HINT)
    if spec is None:
        label = label_of(ds)
        return (label.values != 0) & hemisphere_mask(label, hemisphere)
    if isinstance(spec, (xr.DataArray, np.ndarray)):
        spec_da = spec if isinstance(spec, xr.DataArray) else None
        values = spec_da.transpose(*GRID_DIMS).values if spec_da is not None else np.asarray(spec)
        shape = tuple(ds.sizes[d] for d in GRID_DIMS)
        if values.dtype != bool or values.shape != shape:
            raise ValueError(
                f"A {what} mask must be a boolean volume of shape {shape} (ml, dv, ap), got "
                f"dtype {values.dtype} and shape {values.shape}."
            )
        if hemisphere is not None:
            values = values & hemisphere_mask(label_of(ds), hemisphere)
        return values
    return region_mask(ds, spec, mapping=mapping, hemisphere=hemisphere).values
