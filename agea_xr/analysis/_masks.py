"""Voxel selections of the analyses: region acronyms/ids or boolean volumes, by hemisphere.

Hemispheres are decided by position and Allen ids looked up in ``BrainRegions``
by their owners in :mod:`agea_xr.regions` (``is_left``, ``hemisphere_mask``,
``index_of_ids``); this module only turns what a user passes into a boolean
``(ml, dv, ap)`` volume.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice
from ..layout import GRID_DIMS
from ..regions import hemisphere_mask, label_of, region_mask

__all__ = ["HEMISPHERE_CHOICES", "describe", "selection_mask"]

#: Hemisphere choices of the voxel selections (None: both hemispheres).
HEMISPHERE_CHOICES = (None, "left", "right")


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
    check_choice(
        hemisphere, HEMISPHERE_CHOICES, "hemisphere", "'left' is x < 0, 'right' x > 0, None both."
    )
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
