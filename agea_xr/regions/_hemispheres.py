"""Hemispheres, decided by position (x < 0 is left), never by the sign of an id."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice
from ..layout import GRID_DIMS, GRID_SHAPE, LEFT_ML_MAX_INDEX, ML

__all__ = ["HEMISPHERES", "hemisphere_mask", "is_left"]

#: Hemisphere names accepted by :func:`hemisphere_mask` and :func:`region_mask` (None: both).
HEMISPHERES = ("left", "right")
_HEMISPHERE_HINT = (
    f"'left' is x < 0 (i_ml <= {LEFT_ML_MAX_INDEX}), 'right' x > 0, None both hemispheres."
)


def is_left(obj: Any) -> np.ndarray:
    """Voxels of the left hemisphere, by position (x < 0): the one hemisphere rule.

    Never decided by the sign of a label's ids: a non-lateralised label, or one
    whose ids were flipped, still splits at the midline.

    Parameters
    ----------
    obj : xarray.Dataset, xarray.DataArray or numpy.ndarray
        An xarray object with the ``ml`` dimension (any selection of the grid; its
        ``ml`` coordinate decides), or a numpy volume of the whole grid, shape
        (58, 41, 67) (``i_ml <= 28`` is left).

    Returns
    -------
    numpy.ndarray
        bool, shape ``(ml, dv, ap)`` of ``obj`` (size 1 along a dim it lacks),
        read-only (a broadcast view).

    Raises
    ------
    ValueError
        Without an ``ml`` dimension, or for a numpy array not of the grid's shape.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> left = is_left(ds)
    >>> left.shape, bool(left[28].all()), bool(left[29].any())
    ((58, 41, 67), True, False)
    """
    if isinstance(obj, (xr.Dataset, xr.DataArray)):
        if ML not in obj.dims:
            raise ValueError(
                f"Hemispheres are decided by the 'ml' coordinate, which this object lacks as "
                f"a dimension (dims {tuple(obj.dims)})."
            )
        left = np.asarray(obj[ML].values, dtype=np.float64) < 0
        shape = tuple(obj.sizes.get(d, 1) for d in GRID_DIMS)
    else:
        shape = np.shape(obj)
        if shape != GRID_SHAPE:
            raise ValueError(
                f"A numpy volume must cover the whole AGEA grid {GRID_SHAPE} (ml, dv, ap) for "
                f"its hemispheres to be known by position, got shape {shape}; pass an xarray "
                "object with its ml coordinate instead."
            )
        left = np.arange(GRID_SHAPE[0]) <= LEFT_ML_MAX_INDEX
    return np.broadcast_to(left[:, None, None], shape)


def hemisphere_mask(obj: Any, hemisphere: str | None) -> np.ndarray:
    """Voxels of one hemisphere (or both), by position, as :func:`is_left` decides.

    Parameters
    ----------
    obj : xarray.Dataset, xarray.DataArray or numpy.ndarray
        As for :func:`is_left`.
    hemisphere : {None, "left", "right"}
        None: every voxel.

    Returns
    -------
    numpy.ndarray
        bool, shape ``(ml, dv, ap)`` of ``obj``, read-only.

    Raises
    ------
    ValueError
        For an unknown hemisphere (with the closest name), or as :func:`is_left`.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> int(hemisphere_mask(ds, "right")[:, 0, 0].sum()), int(hemisphere_mask(ds, None).sum())
    (29, 159326)
    """
    hemisphere = check_choice(hemisphere, (None, *HEMISPHERES), "hemisphere", _HEMISPHERE_HINT)
    left = is_left(obj)
    if hemisphere is None:
        return np.broadcast_to(np.True_, left.shape)
    if hemisphere == "left":
        return left
    out = ~left
    out.flags.writeable = False
    return out
