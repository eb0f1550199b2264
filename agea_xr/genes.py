"""Genes of an AGEA dataset: the gene table, symbol search, one gene's volume.

Gene symbols repeat (4,345 experiments, 4,082 genes): a gene may have several
experiments, e.g. one coronal and one sagittal series. :func:`gene` returns
them all, or their NaN-aware mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .gene_index import unknown_gene_message
from .layout import EXPERIMENT

__all__ = ["COMBINE", "expression_of", "gene", "genes", "search_genes"]

#: Values of ``combine`` in :func:`gene`.
COMBINE = ("mean", None)


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
        If a Dataset has no ``expression`` variable.
    """
    if isinstance(obj, xr.DataArray):
        return obj
    if "expression" not in obj.data_vars:
        raise ValueError(
            f"This dataset has no 'expression' variable (it has {list(obj.data_vars)}): "
            "open an AGEA folder with agea_xr.open_dataset()."
        )
    return obj["expression"]


def _gene_coord(obj: xr.Dataset | xr.DataArray) -> xr.DataArray:
    if "gene" not in obj.coords or EXPERIMENT not in obj.coords["gene"].dims:
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
    symbols = _gene_coord(obj).values.astype(str)
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
    combine : {"mean", None}, default "mean"
        ``"mean"``: the NaN-aware mean over the gene's experiments (a voxel
        measured in any experiment has a value), dims ``(ml, dv, ap)``; None: every
        experiment of the gene, dims ``(experiment, ml, dv, ap)``.

    Returns
    -------
    xarray.DataArray
        Named after the gene; lazy if the data are. With ``combine="mean"``,
        ``attrs["experiments"]`` lists the experiments averaged. When ``obj`` is a
        Dataset with a ``label`` volume, it is attached as the ``label``
        coordinate, so that region tools work on the result.

    Raises
    ------
    KeyError
        For an unknown symbol, listing the closest matches.
    ValueError
        For an unknown ``combine`` or a missing ``gene`` coordinate.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> pdyn = gene(ds, "Pdyn")
    >>> pdyn.dims, pdyn.name
    (('ml', 'dv', 'ap'), 'Pdyn')
    >>> gene(ds, "Pdyn", combine=None).sizes["experiment"]
    1
    """
    if combine not in COMBINE:
        raise ValueError(
            f"Unknown combine {combine!r}: choose 'mean' (NaN-aware mean over the gene's "
            "experiments) or None (keep every experiment)."
        )
    da = expression_of(obj)
    symbols = _gene_coord(da)
    if not isinstance(symbol, str):
        raise TypeError(f"A gene symbol must be a string, got {symbol!r}.")
    if symbol not in set(symbols.values.tolist()):
        raise KeyError(unknown_gene_message(symbol, symbols.values.astype(str)))
    selected = da.isel({EXPERIMENT: np.flatnonzero(symbols.values == symbol)})
    if isinstance(obj, xr.Dataset) and "label" in obj.variables:
        selected = selected.assign_coords(label=obj["label"])
    if combine is None:
        return selected.rename(symbol)
    experiments = selected[EXPERIMENT].values.astype(np.int64).tolist()
    out = selected.mean(EXPERIMENT, skipna=True, keep_attrs=True)
    out = out.drop_vars(["gene"], errors="ignore").rename(symbol)
    out.attrs["experiments"] = experiments
    out.attrs["cell_methods"] = (
        f"{EXPERIMENT}: mean (NaN-aware) of {len(experiments)} experiment(s)"
    )
    return out
