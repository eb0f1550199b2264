"""The analyses on any ``(item, ml, dv, ap)`` variable: cell types, lipids, user stacks.

The gene analyses run on an ``expression`` variable over ``experiment``. A
cell-type or lipid Dataset (:func:`agea_xr.open_cell_types`,
:func:`agea_xr.open_lipids`) holds the same kind of stack over another item
dimension; :func:`item_dataset` presents one such variable under the gene
names (a view: nothing is copied or read), so :func:`region_expression` and
:func:`similar` reuse the one pass of :mod:`agea_xr.analysis._chunks` and the
pairwise kernel of :mod:`agea_xr.analysis._pairwise` unchanged.

:func:`similar` is the cross-modal search: the cell types (or lipids) whose maps
match a gene's map (or any map), ranked by Pearson (or Spearman) r over the
voxels where both have values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..layout import EXPERIMENT, GRID_DIMS

__all__ = ["item_coords", "item_dataset", "item_variable", "similar"]


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
        When ``variable`` is not such a variable, or there is none or several
        (the message names them).

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
    stacks = [
        str(name)
        for name, var in ds.data_vars.items()
        if var.ndim == len(GRID_DIMS) + 1 and set(GRID_DIMS) <= set(var.dims)
    ]
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


def item_coords(ds: xr.Dataset, item: str) -> list[str]:
    """Names of the coordinates along ``item`` other than its index (names, colours, ...)."""
    return [str(c) for c, v in ds.coords.items() if v.dims == (item,) and c != item]


def item_dataset(
    ds: xr.Dataset, variable: str | None = None, *, genes: bool = False
) -> tuple[xr.Dataset, str, str]:
    """``ds``'s item variable as an ``expression`` over ``experiment``, for the gene analyses.

    Parameters
    ----------
    ds : xarray.Dataset
        Any Dataset with an ``(item, ml, dv, ap)`` variable (and ``label`` for the
        region tools).
    variable : str, optional
        See :func:`item_variable`.
    genes : bool, default False
        Also give the item names as a ``gene`` coordinate (for the functions that
        label their rows with genes).

    Returns
    -------
    (dataset, variable, item_dim)
        The view: ``expression`` (experiment, ml, dv, ap) holding the same data (a
        rename, nothing read), ``label`` when ``ds`` has one, the grid coordinates;
        ``variant`` "processed" (a stored -1 is a value here, not a missing one).
    """
    variable, item = item_variable(ds, variable)
    values = ds[variable].drop_vars(item_coords(ds, item)).rename({item: EXPERIMENT})
    if EXPERIMENT not in values.coords:
        values = values.assign_coords({EXPERIMENT: np.arange(values.sizes[EXPERIMENT])})
    data = {"expression": values}
    if "label" in ds.data_vars:
        data["label"] = ds["label"]
    inner = xr.Dataset(data, attrs={"variant": "processed"})
    if genes:
        names = np.asarray(values[EXPERIMENT].values).astype(str).astype(object)
        inner = inner.assign_coords(gene=(EXPERIMENT, names))
    return inner, variable, item


def on_items(function, ds: xr.Dataset, variable: str | None, *args: Any, **kwargs: Any):
    """``function`` (a region analysis) on ``ds``'s item variable, rows renamed back.

    The result's ``experiment`` rows become the item dimension, with its
    coordinates (names, colours, parents) reattached.
    """
    inner, variable, item = item_dataset(ds, variable)
    result = function(inner, *args, **kwargs).rename({EXPERIMENT: item})
    result = result.assign_coords({c: (item, ds[c].values) for c in item_coords(ds, item)})
    arrays = result.data_vars.values() if isinstance(result, xr.Dataset) else [result]
    for array in arrays:
        array.attrs["variable"] = variable
        text = array.attrs.get("long_name", "")
        array.attrs["long_name"] = text.replace("expression energy", variable)
    return result


def similar(
    query: xr.DataArray | np.ndarray,
    ds: xr.Dataset,
    *,
    variable: str | None = None,
    mask: Any = None,
    method: str = "pearson",
    mapping: str = "Allen",
    hemisphere: str | None = None,
    min_voxels: int = 10,
    top: int | None = None,
) -> pd.DataFrame:
    """Items (cell types, lipids) ranked by the spatial correlation of their maps with a map.

    The cross-modal search: ``similar(ds.agea.gene("Pdyn"), ct)`` ranks the cell
    types whose densities follow the Pdyn map. The same pass and kernel as
    :func:`agea_xr.similar_genes` (masked pairwise sums, Pearson r as
    ``numpy.corrcoef`` over the voxels where both maps have values; Spearman's
    rho over their ranks), on ``ds``'s ``(item, ml, dv, ap)`` variable. For the
    reverse (genes matching a cell type's map) use
    ``genes_ds.agea.similar_genes(ct.density.isel(cell_type=0))``.

    Parameters
    ----------
    query : xarray.DataArray or numpy.ndarray
        One ``(ml, dv, ap)`` map on the AGEA grid (NaN = no value), e.g.
        ``genes.agea.gene("Pdyn")``; an extra dimension of length 1 is dropped.
    ds : xarray.Dataset
        Items on the grid: :func:`agea_xr.open_cell_types`,
        :func:`agea_xr.open_lipids` (with ``label`` for region masks).
    variable : str, optional
        The item variable (default: the only one, ``density`` or ``intensity``).
    mask, method, mapping, hemisphere, min_voxels, top
        As for :func:`agea_xr.similar_genes`.

    Returns
    -------
    pandas.DataFrame
        Ranked by ``r``, highest first (NaN last): ``rank``, the item (e.g.
        ``cell_type``), ``r``, ``n_voxels``, then the item's coordinates
        (``class``, ``color``, ``reliability``, ...). ``attrs`` as
        :func:`agea_xr.similar_genes`, plus ``variable``.

    Raises
    ------
    ValueError
        For a map of the wrong shape or grid, a dataset without an item variable,
        and as :func:`agea_xr.similar_genes`.
    TypeError
        For a gene symbol or experiment id as ``query`` (those name genes: pass the
        gene's map).

    Examples
    --------
    >>> import tempfile, agea_xr, agea_xr.testing as t
    >>> ct = agea_xr.open_cell_types(t.write_merfish(tempfile.mkdtemp(), ["class"]), "class")
    >>> table = similar(ct.density.isel(cell_type=2), ct)
    >>> table[["rank", "cell_type"]].values.tolist()[0]
    [1, '03 OB-CR Glut']
    """
    from .similar import similar_genes

    if not isinstance(query, (xr.DataArray, np.ndarray)):
        raise TypeError(
            f"similar() compares a map with the items of ds; got {type(query).__name__} "
            f"{query!r}. Pass a (ml, dv, ap) map, e.g. genes.agea.gene('Pdyn')."
        )
    if isinstance(query, xr.DataArray):
        query = query.drop_vars([c for c in query.coords if c not in query.dims])
    inner, variable, item = item_dataset(ds, variable, genes=True)
    table = similar_genes(
        inner,
        query,
        mask=mask,
        method=method,
        mapping=mapping,
        hemisphere=hemisphere,
        min_voxels=min_voxels,
        top=top,
    )
    positions = pd.Index(np.asarray(inner[EXPERIMENT].values)).get_indexer(table[EXPERIMENT])
    out = pd.DataFrame({"rank": table["rank"].to_numpy(), item: table[EXPERIMENT].to_numpy()})
    out["r"] = table["r"].to_numpy()
    out["n_voxels"] = table["n_voxels"].to_numpy()
    for c in item_coords(ds, item):
        out[c] = np.asarray(ds[c].values)[positions]
    out.attrs = {**table.attrs, "variable": variable}
    return out
