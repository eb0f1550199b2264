"""The analyses on any ``(item, ml, dv, ap)`` variable: cell types, lipids, user stacks.

The gene analyses run on an ``expression`` variable over ``experiment``. A
cell-type or lipid Dataset (:func:`agea_xr.open_cell_types`,
:func:`agea_xr.open_lipids`) holds the same kind of stack over another item
dimension. This module is the one place that knows it: :func:`item_view`
presents such a variable under the gene names (a view: nothing is copied or
read), so the analyses reuse the one pass of :mod:`agea_xr.analysis._chunks`
and their kernels unchanged, and :class:`ItemView` names their results back by
the items (``cell_type``, ``lipid``, with the items' coordinates). The
analyses declare how with a decorator: :func:`on_items` (region matrices, seed
correlation, the gene finder, the voxel matrix, clusters) or
:func:`genes_only` (the gene-specific ones, which refuse an item dataset and
say what to use).

:func:`similar` is the cross-modal search: the cell types (or lipids) whose maps
match a gene's map (or any map), ranked by Pearson (or Spearman) r over the
voxels where both have values, with spatial p and q on request.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from ..conventions import count_attributes, item_attributes, items_name
from ..layout import EXPERIMENT
from ..stacks import (
    holds_items,
    item_coords,
    item_variable,
    names_of,
    stacks_in_words,
    with_object_names,
)

__all__ = [
    "ItemView",
    "genes_only",
    "is_items",
    "item_view",
    "on_items",
    "similar",
]

F = TypeVar("F", bound=Callable[..., Any])


def is_items(ds: Any, variable: str | None = None) -> bool:
    """Whether an analysis of ``ds`` runs on an item variable rather than on ``expression``.

    True for ``variable=`` naming another variable than ``expression``, and for a
    Dataset without ``expression`` that holds an ``(item, ml, dv, ap)`` variable
    (:func:`agea_xr.open_cell_types`, :func:`agea_xr.open_lipids`). Anything else
    goes to the gene analysis itself (and its own checks).
    """
    return variable not in (None, "expression") or holds_items(ds)


@dataclass(frozen=True)
class ItemView:
    """An item dataset seen by the gene analyses, and their results named back by the items.

    Attributes
    ----------
    ds : xarray.Dataset
        The item dataset (cell types, lipids, a user's stack).
    genes : xarray.Dataset
        The same data as an AGEA-like dataset, a view (a rename: nothing read):
        ``expression`` ``(experiment, ml, dv, ap)`` with the item's position as
        ``experiment`` and its name (the item coordinate, else the position) as
        ``gene``; ``label`` when ``ds`` has one.
    variable, item : str
        The item variable and its dimension.
    """

    ds: xr.Dataset
    genes: xr.Dataset
    variable: str
    item: str

    def _coords(self, positions: np.ndarray) -> xr.Coordinates:
        """The item coordinates of ``ds`` (names, colours, parents) at ``positions``."""
        names = [c for c in (self.item, *item_coords(self.ds, self.item)) if c in self.ds.coords]
        if not names:
            return xr.Coordinates()
        # a few thousand values: loaded first (a dask ``isel`` by a ranking would shuffle
        # every chunk of them, thousands of tasks on a cluster)
        return self.ds.coords.to_dataset()[names].compute().isel({self.item: positions}).coords

    def _attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return item_attributes(attrs, self.variable, self.item)

    def rows(self, result: xr.DataArray | xr.Dataset) -> xr.DataArray | xr.Dataset:
        """A result along ``experiment`` (region or voxel matrix), along the items instead."""
        positions = np.asarray(result[EXPERIMENT].values)
        result = result.drop_vars([c for c in result.coords if EXPERIMENT in result[c].dims])
        result = result.rename({EXPERIMENT: self.item}).assign_coords(self._coords(positions))
        arrays = result.data_vars.values() if isinstance(result, xr.Dataset) else [result]
        for array in arrays:
            array.attrs = self._attrs(array.attrs)
        if isinstance(result, xr.DataArray) and result.name == "expression":
            result = result.rename(self.variable)
        return result

    def table(self, table: pd.DataFrame) -> pd.DataFrame:
        """A table with ``gene`` and ``experiment`` columns with the item and its coordinates."""
        coords = self._coords(table[EXPERIMENT].to_numpy())
        out = table.drop(columns=["gene", EXPERIMENT])
        name = coords[self.item].values if self.item in coords else table[EXPERIMENT].to_numpy()
        out.insert(1 if "rank" in out else 0, self.item, name)
        for c in item_coords(self.ds, self.item):
            out[c] = coords[c].values
        out.attrs = {**table.attrs, "variable": self.variable}
        return out

    def volume(self, result: xr.DataArray) -> xr.DataArray:
        """A grid result (seed map, clusters): its counts of experiments count the items."""
        if "n_experiments" in result.coords:
            count = result["n_experiments"].variable.copy()
            count.attrs = count_attributes(self.item)
            result = result.drop_vars("n_experiments")
            result = result.assign_coords({f"n_{items_name(self.item)}": count})
        result.attrs = self._attrs(result.attrs)
        return result


def item_view(ds: xr.Dataset, variable: str | None = None) -> ItemView:
    """``ds``'s item variable as an ``expression`` over ``experiment``, for the gene analyses.

    Parameters
    ----------
    ds : xarray.Dataset
        Any Dataset with an ``(item, ml, dv, ap)`` variable (and ``label`` for the
        region tools).
    variable : str, optional
        See :func:`item_variable`.

    Returns
    -------
    ItemView
        ``genes`` holds ``variant`` "processed" (a stored -1 is a value here, not a
        missing one), except for AGEA's own ``expression``, which keeps its variant.
    """
    variable, item = item_variable(ds, variable)
    ds = with_object_names(ds)  # read from Zarr: StringDType names
    values = ds[variable]
    names = values[item].values if item in values.coords else np.arange(values.sizes[item])
    values = values.drop_vars([c for c in values.coords if item in values[c].dims])
    values = values.rename({item: EXPERIMENT}).rename("expression")
    data = {"expression": values}
    if "label" in ds.data_vars:
        data["label"] = ds["label"]
    variant = ds.attrs.get("variant", "raw") if variable == "expression" else "processed"
    genes = xr.Dataset(data, attrs={"variant": variant}).assign_coords(
        {
            EXPERIMENT: np.arange(values.sizes[EXPERIMENT]),
            "gene": (EXPERIMENT, names_of(names)),
        }
    )
    return ItemView(ds, genes, variable, item)


def on_items(result: str, **gene_only: str) -> Callable[[F], F]:
    """Decorator: a gene analysis that also runs on cell types, lipids or any item stack.

    On an AGEA dataset the analysis runs as written. On a dataset whose analysed
    variable is another ``(item, ml, dv, ap)`` stack (:func:`is_items`), it runs
    unchanged on :func:`item_view`'s ``genes`` (one pass, same kernels), and its
    result is named back by the items (:class:`ItemView`'s ``rows``, ``table`` or
    ``volume``), with the attributes of :func:`agea_xr.conventions.item_attributes`.

    Parameters
    ----------
    result : {"rows", "table", "volume"}
        What the analysis returns: rows along ``experiment``, a table with ``gene``
        and ``experiment`` columns, or a grid volume.
    **gene_only : str
        Options that only make sense for genes, with why: given (not None or
        False) on items, they raise a ValueError naming the function and the fix.
    """

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        first = next(iter(signature.parameters))

        @functools.wraps(function)
        def analysis(*args: Any, **kwargs: Any):
            bound = signature.bind(*args, **kwargs)
            variable = bound.arguments.get("variable")
            if not is_items(bound.arguments[first], variable):
                return function(*args, **kwargs)
            view = item_view(bound.arguments[first], variable)
            for option, why in gene_only.items():
                value = bound.arguments.get(option)
                if value is not None and value is not False:
                    raise ValueError(
                        f"{function.__name__}({option}={value!r}) {why} This dataset's items are "
                        f"{view.item!r} ({view.variable!r}): {_remedy(option, view)}"
                    )
            bound.arguments[first] = view.genes
            if "variable" in bound.arguments:
                bound.arguments["variable"] = None
            return getattr(view, result)(function(*bound.args, **bound.kwargs))

        return analysis  # type: ignore[return-value]

    return decorate


def _remedy(option: str, view: ItemView) -> str:
    if option == "genes":
        return f"select the items first, e.g. ds.sel({view.item}=[...]), and leave {option} out."
    groups = [c for c in item_coords(view.ds, view.item) if c in view.ds.xindexes]
    by = f"e.g. .groupby({groups[0]!r})" if groups else "by one of their coordinates"
    return f"leave {option} out (each item has one map), and group the rows yourself ({by})."


def genes_only(why: str, instead: str) -> Callable[[F], F]:
    """Decorator: a gene-specific analysis refuses an item dataset, saying why and what to use.

    Parameters
    ----------
    why : str
        What makes the function gene-specific (it completes "<function>() ...").
    instead : str
        What to call on items instead.
    """

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        first = next(iter(signature.parameters))

        @functools.wraps(function)
        def analysis(*args: Any, **kwargs: Any):
            ds = signature.bind(*args, **kwargs).arguments[first]
            if is_items(ds):
                raise ValueError(
                    f"{function.__name__}() is gene-specific: it {why}. This dataset holds "
                    f"{stacks_in_words(ds)}, not gene expression: {instead}"
                )
            return function(*args, **kwargs)

        return analysis  # type: ignore[return-value]

    return decorate


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
    n_null: int | None = None,
    random_state: int | np.random.Generator | None = None,
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
        :func:`agea_xr.open_lipids` (with ``label`` for region masks), or an AGEA
        dataset (its experiments are then the items).
    variable : str, optional
        The item variable (default: the only one, ``density`` or ``intensity``).
    mask, method, mapping, hemisphere, min_voxels, top
        As for :func:`agea_xr.similar_genes`.
    n_null : int, optional
        Add ``p_spatial`` (two-sided p of ``r`` against ``n_null`` spatial nulls of
        the query) and ``q`` (Benjamini-Hochberg over all rows, before ``top``), as
        :func:`agea_xr.similar_genes` does. Pearson only.
    random_state : int or numpy.random.Generator, optional
        Seed of the nulls: the same seed gives the same p as ``similar_genes`` on
        the same numbers.

    Returns
    -------
    pandas.DataFrame
        Ranked by ``r``, highest first (NaN last): ``rank``, the item (e.g.
        ``cell_type``), ``r``, ``n_voxels``, ``p_spatial`` and ``q`` with
        ``n_null``, then the item's coordinates (``class``, ``color``,
        ``reliability``, ...). ``attrs`` as :func:`agea_xr.similar_genes`, plus
        ``variable``.

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
    view = item_view(ds, variable)
    table = similar_genes(
        view.genes,
        query,
        mask,
        method=method,
        mapping=mapping,
        hemisphere=hemisphere,
        min_voxels=min_voxels,
        top=top,
        n_null=n_null,
        random_state=random_state,
    )
    return view.table(table)
