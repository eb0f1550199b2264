"""Which variable of a Dataset is its stack of maps: ``(item, ml, dv, ap)``.

An AGEA dataset holds ``expression`` over ``experiment``; a cell-type or lipid
dataset (:func:`agea_xr.open_cell_types`, :func:`agea_xr.open_lipids`) holds
``density`` over ``cell_type`` or ``intensity`` over ``lipid``; a user's Dataset
may hold any such stack. This module is the one place that finds it, for the
point tools, the plots and the analyses (:mod:`agea_xr.analysis.items`).
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from .layout import GRID_DIMS

__all__ = ["is_stack", "item_coords", "item_variable", "stack_of", "stacks_in_words"]


def is_stack(var: Any) -> bool:
    """Whether ``var`` is a stack of grid maps: 4-D, the grid dims and one item dim."""
    dims = getattr(var, "dims", ())
    return len(dims) == len(GRID_DIMS) + 1 and set(GRID_DIMS) <= set(dims)


def item_variable(ds: xr.Dataset, variable: str | None = None) -> tuple[str, str]:
    """The ``(item, ml, dv, ap)`` variable of ``ds`` and its item dimension.

    Parameters
    ----------
    ds : xarray.Dataset
    variable : str, optional
        Its name; default: the one data variable over an item dimension and the grid.

    Returns
    -------
    (variable, item_dim) : tuple of str

    Raises
    ------
    ValueError
        When ``ds`` is not a Dataset, ``variable`` is not such a variable, or there
        is none or several (the message names them).

    Examples
    --------
    >>> import agea_xr
    >>> item_variable(agea_xr.open_sample())
    ('expression', 'experiment')
    """
    if not isinstance(ds, xr.Dataset):
        raise ValueError(
            f"The item analyses need a Dataset (with 'label'), got {type(ds).__name__}: call "
            "them on the Dataset that holds the variable (ct.agea..., lp.agea...)."
        )
    stacks = [str(name) for name, var in ds.data_vars.items() if is_stack(var)]
    if variable is None:
        if len(stacks) != 1:
            raise ValueError(
                f"Cannot tell which variable to analyse: the dataset has "
                f"{len(stacks)} (item, ml, dv, ap) variables {stacks}; pass variable=..."
            )
        variable = stacks[0]
    elif variable not in stacks:
        raise ValueError(
            f"variable={variable!r} is not an (item, ml, dv, ap) variable of the dataset; "
            f"choose one of {stacks}."
        )
    (item,) = (d for d in ds[variable].dims if d not in GRID_DIMS)
    return variable, str(item)


def item_coords(ds: xr.Dataset | xr.DataArray, item: str) -> list[str]:
    """Names of the coordinates along ``item`` other than its index (names, colours, ...)."""
    return [str(c) for c, v in ds.coords.items() if v.dims == (item,) and c != item]


def stack_of(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """The stack of maps of a Dataset: ``expression``, else its one item variable.

    A DataArray is returned as is.

    Raises
    ------
    ValueError
        For a Dataset with no stack, or several and no ``expression`` (naming them).
    """
    if isinstance(obj, xr.DataArray):
        return obj
    if "expression" in obj.data_vars:
        return obj["expression"]
    if not any(is_stack(v) for v in obj.data_vars.values()):
        raise ValueError(
            f"This dataset has no stack of maps (it has {list(obj.data_vars)}): open an AGEA "
            "folder with agea_xr.open_dataset(), or cell types and lipids with "
            "agea_xr.open_cell_types() / open_lipids()."
        )
    return obj[item_variable(obj)[0]]


def stacks_in_words(ds: xr.Dataset) -> str:
    """The dataset's stacks for a message: ``'density' over 'cell_type'``."""
    return " and ".join(
        f"{n!r} over {next(d for d in v.dims if d not in GRID_DIMS)!r}"
        for n, v in ds.data_vars.items()
        if is_stack(v)
    )
