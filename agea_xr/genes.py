"""Genes of an AGEA dataset: the gene table, symbol search, one gene's volume.

Gene symbols repeat (4,345 experiments, 4,082 genes): a gene may have several
experiments, e.g. one coronal and one sagittal series. :func:`gene` returns
them all, or their NaN-aware mean, median or maximum.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ._choices import check_choice
from .gene_index import drop_gene_index, set_gene_index, unknown_gene_message
from .layout import EXPERIMENT
from .stacks import holds_items, names_of, stacks_in_words

__all__ = ["COMBINE", "expression_of", "gene", "genes", "reindex_experiments", "search_genes"]

#: Values of ``combine`` in :func:`gene`: NaN-aware reductions over the gene's
#: experiments, or None to keep them all.
COMBINE = ("mean", "median", "max", None)


def expression_of(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    """The expression DataArray of a dataset (a DataArray is returned as is).

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray

    Returns
    -------
    xarray.DataArray

    Raises
    ------
    ValueError
        If a Dataset has no ``expression`` variable (saying so for a cell-type or
        lipid dataset).
    """
    if isinstance(obj, xr.DataArray):
        return obj
    if "expression" not in obj.data_vars:
        if holds_items(obj):
            raise _not_genes(obj)
        raise ValueError(
            f"This dataset has no 'expression' variable (it has {list(obj.data_vars)}): "
            "open an AGEA folder with agea_xr.open_dataset()."
        )
    return obj["expression"]


def _not_genes(obj: xr.Dataset) -> ValueError:
    return ValueError(
        f"This is a gene tool, and this dataset holds {stacks_in_words(obj)} (cell "
        "types or lipids), not gene expression: select its maps by name instead, "
        "e.g. ct.density.sel(cell_type=[...]) or lp.intensity.sel(lipid=[...])."
    )


def _gene_coord(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    if "gene" not in obj.coords or EXPERIMENT not in obj.coords["gene"].dims:
        if holds_items(obj):
            raise _not_genes(obj)
        raise ValueError(
            "This object has no 'gene' coordinate along 'experiment': gene tools need the "
            "dataset opened by agea_xr.open_dataset() (or its expression variable)."
        )
    return obj.coords["gene"]


def genes(obj: xr.Dataset | xr.DataArray) -> pd.DataFrame:
    """The gene table: each gene symbol, its experiments and how many.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Anything with the ``gene`` and ``experiment`` coordinates.

    Returns
    -------
    pandas.DataFrame
        Columns ``gene`` (symbol), ``experiments`` (list of Allen experiment ids,
        in file order) and ``n_experiments``; one row per symbol, in order of
        first appearance.

    Raises
    ------
    ValueError
        If there is no ``gene`` coordinate.

    Examples
    --------
    >>> import agea_xr
    >>> genes(agea_xr.open_sample()).to_dict("records")[0]
    {'gene': 'Pdyn', 'experiments': [71717084], 'n_experiments': 1}
    """
    symbols = names_of(_gene_coord(obj).values)
    ids = obj.coords[EXPERIMENT].values.astype(np.int64)
    table = pd.DataFrame({"gene": symbols, "experiment": ids})
    grouped = table.groupby("gene", sort=False)["experiment"].agg(list)
    return pd.DataFrame(
        {
            "gene": grouped.index.to_numpy(dtype=object),
            "experiments": grouped.to_list(),
            "n_experiments": grouped.map(len).to_numpy(dtype=np.int64),
        }
    )


def search_genes(obj: xr.Dataset | xr.DataArray, pattern: str) -> list[str]:
    """Gene symbols matching a pattern, case-insensitively.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Anything with the ``gene`` coordinate.
    pattern : str
        Part of a symbol (no wildcards).

    Returns
    -------
    list of str
        Distinct symbols: an exact match first, then those starting with
        ``pattern``, then those containing it; alphabetical within each group.
        Empty when nothing matches.

    Raises
    ------
    TypeError
        If ``pattern`` is not a string.
    ValueError
        If it is empty or there is no ``gene`` coordinate.

    Examples
    --------
    >>> import agea_xr
    >>> search_genes(agea_xr.open_sample(), "rp")
    ['Nrp1']
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a string, got {pattern!r}.")
    if not pattern:
        raise ValueError("pattern is empty: pass part of a gene symbol, e.g. 'Slc17'.")
    symbols = sorted({str(s) for s in _gene_coord(obj).values}, key=lambda s: (s.lower(), s))
    needle = pattern.lower()
    exact = [s for s in symbols if s.lower() == needle]
    prefix = [s for s in symbols if s.lower().startswith(needle) and s not in exact]
    inner = [s for s in symbols if needle in s.lower()[1:] and not s.lower().startswith(needle)]
    return exact + prefix + inner


def _nan_reduce(values: np.ndarray, how: str) -> np.ndarray:
    """NaN-aware median or maximum over the last axis; NaN, silently, where all are NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        reduce = np.nanmedian if how == "median" else np.nanmax
        return reduce(values, axis=-1).astype(values.dtype, copy=False)


def gene(
    obj: xr.Dataset | xr.DataArray, symbol: str, combine: str | None = "mean"
) -> xr.DataArray:
    """The expression volume of one gene.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        A dataset (its ``expression`` is used) or an expression DataArray.
    symbol : str
        Gene symbol (case-sensitive MGI symbol, e.g. ``"Pdyn"``).
    combine : {"mean", "median", "max", None}, default "mean"
        How the gene's experiments are combined, voxel by voxel, ignoring NaN (a
        voxel measured in any experiment has a value; one measured in none is NaN):
        ``"mean"``, ``"median"`` (``numpy.nanmedian``; with two experiments it
        equals the mean) or ``"max"`` (``numpy.nanmax``), dims ``(ml, dv, ap)``;
        None keeps every experiment of the gene, dims ``(experiment, ml, dv, ap)``.

    Returns
    -------
    xarray.DataArray
        Named after the gene; lazy if the data are; same dtype as the data. When
        combined, ``attrs["experiments"]`` lists the experiments combined and
        ``attrs["cell_methods"]`` names the reduction (CF). When ``obj`` is a
        Dataset with a ``label`` volume, it is attached as the ``label``
        coordinate, so that region tools work on the result.

    Raises
    ------
    KeyError
        For an unknown symbol, listing the closest matches.
    ValueError
        For an unknown ``combine`` or a missing ``gene`` coordinate.
    TypeError
        If ``symbol`` is not a string.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> pdyn = gene(ds, "Pdyn")
    >>> pdyn.dims, pdyn.name
    (('ml', 'dv', 'ap'), 'Pdyn')
    >>> gene(ds, "Pdyn", combine=None).sizes["experiment"]
    1
    >>> gene(ds, "Pdyn", combine="max").attrs["cell_methods"]
    'experiment: maximum'
    """
    check_choice(
        combine,
        COMBINE,
        "combine",
        "The first three are NaN-aware, over the gene's experiments; None keeps them all.",
    )
    da = expression_of(obj)
    symbols = _gene_coord(da)
    if not isinstance(symbol, str):
        raise TypeError(f"A gene symbol must be a string, got {symbol!r}.")
    if symbol not in set(symbols.values.tolist()):
        raise KeyError(unknown_gene_message(symbol, names_of(symbols.values)))
    selected = da.isel({EXPERIMENT: np.flatnonzero(symbols.values == symbol)})
    if isinstance(obj, xr.Dataset) and "label" in obj.variables:
        selected = selected.assign_coords(label=obj["label"])
    if combine is None:
        return selected.rename(symbol)
    experiments = selected[EXPERIMENT].values.astype(np.int64).tolist()
    if combine == "mean":
        out = selected.mean(EXPERIMENT, skipna=True, keep_attrs=True)
        method = "mean"
    else:
        out = xr.apply_ufunc(
            _nan_reduce,
            selected,
            input_core_dims=[[EXPERIMENT]],
            kwargs={"how": combine},
            dask="parallelized",
            output_dtypes=[selected.dtype],
            dask_gufunc_kwargs={"allow_rechunk": True},
            keep_attrs=True,
        )
        method = "median" if combine == "median" else "maximum"
    out = out.drop_vars(["gene", EXPERIMENT], errors="ignore").rename(symbol)
    out.attrs["experiments"] = experiments
    out.attrs["cell_methods"] = f"{EXPERIMENT}: {method}"
    return out


def reindex_experiments(
    obj: xr.Dataset | xr.DataArray, experiments: Sequence[int] | np.ndarray
) -> xr.Dataset | xr.DataArray:
    """Conform ``obj`` to these experiment ids, each keeping its gene symbol.

    What ``obj.reindex(experiment=ids)`` would do if xarray could re-label the
    :class:`~agea_xr.gene_index.ExperimentIndex` from plain labels (it cannot, and
    raises "conflicting indexes" unless the ids are unchanged): experiments are
    reordered, dropped or added; an added id has NaN data and a NaN gene symbol.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        With ``experiment`` and ``gene`` coordinates.
    experiments : sequence of int
        Allen experiment ids, in the order wanted.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        With the :class:`~agea_xr.gene_index.ExperimentIndex` and
        :class:`~agea_xr.gene_index.GeneIndex`, like ``obj``.

    Raises
    ------
    ValueError
        Without the ``gene`` coordinate along ``experiment``.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> out = reindex_experiments(ds, [74272479, 71717084, 1])
    >>> out.gene.values.tolist()
    ['Nrp1', 'Pdyn', nan]
    """
    _gene_coord(obj)
    ids = np.asarray(experiments).reshape(-1)
    plain = drop_gene_index(obj).reindex({EXPERIMENT: ids})
    return set_gene_index(plain)
