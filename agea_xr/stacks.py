"""Which variable of a Dataset is its stack of maps: ``(item, ml, dv, ap)``.

An AGEA dataset holds ``expression`` over ``experiment``; a cell-type or lipid
dataset (:func:`agea_xr.open_cell_types`, :func:`agea_xr.open_lipids`) holds
``density`` over ``cell_type`` or ``intensity`` over ``lipid``; a user's Dataset
may hold any such stack. This module is the one place that finds it, for the
point tools, the plots and the analyses (:mod:`agea_xr.analysis.items`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .layout import GRID_DIMS

__all__ = [
    "holds_items",
    "is_stack",
    "item_coords",
    "item_variable",
    "names_of",
    "stack_of",
    "stacks_in_words",
    "with_object_names",
]


def is_stack(var: Any) -> bool:
    """Whether ``var`` is a stack of grid maps: 4-D, the grid dims and one item dim."""
    dims = getattr(var, "dims", ())
    return len(dims) == len(GRID_DIMS) + 1 and set(GRID_DIMS) <= set(dims)


def _item_dim(var: Any) -> str:
    """The one dimension of a stack that is not a grid dimension."""
    (item,) = (d for d in var.dims if d not in GRID_DIMS)
    return str(item)


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
    return variable, _item_dim(ds[variable])


def item_coords(ds: xr.Dataset | xr.DataArray, item: str) -> list[str]:
    """Names of the coordinates along ``item`` other than its index (names, colours, ...)."""
    return [str(c) for c, v in ds.coords.items() if v.dims == (item,) and c != item]


def holds_items(obj: Any) -> bool:
    """Whether ``obj`` is a Dataset of cell types, lipids or another stack, not of genes.

    A Dataset without ``expression`` that holds an ``(item, ml, dv, ap)`` variable
    (:func:`agea_xr.open_cell_types`, :func:`agea_xr.open_lipids`).
    """
    return (
        isinstance(obj, xr.Dataset)
        and "expression" not in obj.data_vars
        and any(is_stack(v) for v in obj.data_vars.values())
    )


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
    if not holds_items(obj):
        raise ValueError(
            f"This dataset has no stack of maps (it has {list(obj.data_vars)}): open an AGEA "
            "folder with agea_xr.open_dataset(), or cell types and lipids with "
            "agea_xr.open_cell_types() / open_lipids()."
        )
    return obj[item_variable(obj)[0]]


def stacks_in_words(ds: xr.Dataset) -> str:
    """The dataset's stacks for a message: ``'density' over 'cell_type'``."""
    return " and ".join(
        f"{n!r} over {_item_dim(v)!r}" for n, v in ds.data_vars.items() if is_stack(v)
    )


def names_of(values: Any) -> np.ndarray:
    """Names (genes, cell types, lipids, acronyms) as a 1-D object array of ``str``.

    Whatever array a reader gave: Zarr v3 gives numpy's ``StringDType`` (which
    ``.astype(str)`` refuses to cast), netCDF fixed-width ``str``, agea-xr
    ``object``; anything else (item positions) is written with ``str``.

    Examples
    --------
    >>> import numpy as np
    >>> names_of(np.array(["Pdyn", "Nrp1"], dtype=np.dtypes.StringDType())).tolist()
    ['Pdyn', 'Nrp1']
    >>> names_of(np.arange(2)).dtype, names_of(np.arange(2)).tolist()
    (dtype('O'), ['0', '1'])
    """
    out = [v.decode() if isinstance(v, bytes) else str(v) for v in np.ravel(values).tolist()]
    return np.array(out, dtype=object)


def with_object_names(obj: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
    """``obj`` with its 1-D text coordinates as object arrays of ``str``, as agea-xr makes them.

    Zarr v3 reads them as numpy's ``StringDType``, netCDF as fixed-width ``str``:
    this gives the dtype :func:`agea_xr.open_cell_types` and :func:`agea_xr.open_lipids`
    give (and with it equal results). Their pandas indexes are rebuilt on the new values;
    a coordinate with another index (the gene index) is left as it is.
    """
    text = {
        name: (coord.dims, names_of(coord.values), coord.attrs)
        for name, coord in obj.coords.items()
        if coord.ndim == 1
        and coord.dtype.kind in "TU"
        and (name not in obj.xindexes or type(obj.xindexes[name]) is xr.indexes.PandasIndex)
    }
    if not text:
        return obj
    indexed = [name for name in text if name in obj.xindexes and name not in obj.dims]
    obj = obj.assign_coords(text)
    for name in indexed:  # ct.sel({"class": ...}) keeps working
        obj = obj.set_xindex(name)
    return obj
