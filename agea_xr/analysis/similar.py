"""Similar-gene search: experiments (or genes) ranked by the spatial correlation of their maps.

AGEA's "gene finder by similarity" and NeuroBlast (Ng et al. 2009, Nat Neurosci
12:356): the query map is compared with every experiment's map across the
voxels measured in both, in one pass over the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._choices import (
    check_bool,
    check_choice,
    check_count,
    check_integer,
    check_random_state,
)
from ..layout import EXPERIMENT, GRID_DIMS
from ..regions import check_mapping
from ..stacks import names_of
from ._chunks import experiment_pass, expression_matrix, one_blas_thread
from ._masks import describe, selection_mask
from ._pairwise import PAIR_FIELDS, pairwise_sums, pearson, prepare_queries, rank_sums
from .items import genes_only
from .nulls import decompose
from .stats import null_pass, q_values, spatial_p

__all__ = ["SIMILARITY_METHODS", "query_map", "similar_genes"]

#: Correlations :func:`similar_genes` computes.
SIMILARITY_METHODS = ("pearson", "spearman")
#: r is clipped to this before Fisher's z (r = 1 would give an infinite z).
_R_MAX = 1.0 - 1e-9


def _pearson_kernel(block, table, voxels, values, measured, which):
    return pairwise_sums(block, table, voxels, values, measured, which)


def _spearman_kernel(block, table, voxels, values, measured, which):
    return rank_sums(block, table, voxels, values, measured, which)


def _grid_values(ds: xr.Dataset, da: xr.DataArray | np.ndarray) -> np.ndarray:
    """A grid-shaped map as float64 ``(ml, dv, ap)`` numpy values, checked against ``ds``."""
    shape = tuple(ds.sizes[d] for d in GRID_DIMS)
    if isinstance(da, xr.DataArray):
        extra = [d for d in da.dims if d not in GRID_DIMS]
        if any(da.sizes[d] != 1 for d in extra) or not set(GRID_DIMS) <= set(da.dims):
            raise ValueError(
                f"A query map must be one (ml, dv, ap) volume, got dims {dict(da.sizes)}: "
                "select one experiment or gene (e.g. ds.agea.gene('Pdyn')) first."
            )
        da = da.squeeze(extra, drop=True).transpose(*GRID_DIMS)
        for d in GRID_DIMS:
            if d in da.coords and d in ds.coords and da.sizes[d] == ds.sizes[d]:
                same = np.allclose(
                    np.asarray(da[d].values, float), np.asarray(ds[d].values, float), atol=1e-9
                )
                if not same:
                    raise ValueError(
                        f"The query's {d} coordinate differs from the dataset's: give a map "
                        "on the same grid (select the same ranges from both)."
                    )
        values = np.asarray(da.values)
    else:
        values = np.asarray(da)
    if values.shape != shape:
        raise ValueError(
            f"A query map must have the dataset's grid shape {shape} (ml, dv, ap), got "
            f"{values.shape}."
        )
    if values.dtype == bool or values.dtype.kind not in "fiu":
        raise ValueError(
            f"A query map must hold numbers, got dtype {values.dtype}; a boolean region is "
            "a mask (mask=...) or a target of gene_finder."
        )
    return values.astype(np.float64)


def query_map(ds: xr.Dataset, query: Any) -> tuple[np.ndarray, str, int | None]:
    """The query as float64 ``(ml, dv, ap)`` values (NaN = none), in words, and its experiment.

    Parameters
    ----------
    ds : xarray.Dataset
    query : str, int, xarray.DataArray or numpy.ndarray
        A gene symbol (its experiment, or the mean of its experiments), an
        experiment id, or a grid-shaped map.

    Raises
    ------
    KeyError
        For an unknown gene symbol or experiment id (with the closest matches).
    ValueError
        For a map of the wrong shape, grid or dtype.
    """
    from ..genes import gene

    if isinstance(query, str):
        genes = names_of(ds["gene"].values) if "gene" in ds.coords else []
        if query.strip().isdigit() and query.strip() not in set(genes):
            raise KeyError(
                f"Gene {query!r} is not in this dataset; experiment ids are integers: pass "
                f"{int(query)} for experiment {int(query)}."
            )
        volume = gene(ds, query, combine=None)
        experiments = [int(e) for e in np.asarray(volume[EXPERIMENT].values)]
        values = volume.transpose(EXPERIMENT, *GRID_DIMS).values.astype(np.float64)
        values = _decoded(ds, values)
        with warnings.catch_warnings():  # voxels measured in no experiment stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(values, axis=0) if len(values) > 1 else values[0]
        own = experiments[0] if len(experiments) == 1 else None
        return (
            mean,
            f"{query} (experiment{'s' * (len(experiments) > 1)} "
            + ", ".join(map(str, experiments))
            + (", mean)" if len(experiments) > 1 else ")"),
            own,
        )
    if isinstance(query, Integral) and not isinstance(query, bool):
        ids = np.asarray(ds[EXPERIMENT].values)
        hit = np.flatnonzero(ids == int(query))
        if hit.size == 0:
            near = ids[np.argsort(np.abs(ids.astype(np.int64) - int(query)))[:3]]
            raise KeyError(
                f"Experiment {int(query)} is not in this dataset; the closest ids are "
                f"{', '.join(map(str, near))}. Pass a gene symbol, an experiment id or a map."
            )
        values = ds["expression"].isel({EXPERIMENT: int(hit[0])}).transpose(*GRID_DIMS).values
        values = _decoded(ds, values.astype(np.float64)[None])[0]
        gene_name = str(ds["gene"].values[hit[0]]) if "gene" in ds.coords else "?"
        return values, f"experiment {int(query)} ({gene_name})", int(query)
    if isinstance(query, (xr.DataArray, np.ndarray)):
        name = getattr(query, "name", None)
        return _grid_values(ds, query), f"map {name}" if name else "map", None
    raise TypeError(
        f"query must be a gene symbol (str), an experiment id (int) or an (ml, dv, ap) "
        f"DataArray, got {type(query).__name__}."
    )


def _decoded(ds: xr.Dataset, values: np.ndarray) -> np.ndarray:
    """Experiment values with the ``-1`` sentinel as NaN when the dataset is not decoded."""
    expr = ds["expression"]
    if expr.dtype == np.float16 and ds.attrs.get("variant", "raw") == "raw":
        values = np.where(values == -1, np.nan, values)
    return values


def _fisher_mean(r: pd.Series) -> float:
    z = np.arctanh(np.clip(r.dropna().to_numpy(), -_R_MAX, _R_MAX))
    return float(np.tanh(z.mean())) if z.size else np.nan


@genes_only(
    "ranks experiments and genes (a gene symbol or experiment id as query, per_gene)",
    "for the items whose maps match a map, use agea_xr.similar(map, ds) (the same "
    "correlation; n_null= gives p_spatial and q).",
)
def similar_genes(
    ds: xr.Dataset,
    query: str | int | xr.DataArray | np.ndarray,
    mask: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
    *,
    method: str = "pearson",
    mapping: str = "Allen",
    hemisphere: str | None = None,
    per_gene: bool = False,
    min_voxels: int = 10,
    top: int | None = None,
    n_null: int | None = None,
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Experiments (or genes) ranked by the spatial correlation of their map with a query map.

    AGEA's similar-gene search (Ng et al. 2009, Nat Neurosci 12:356): for every
    experiment, the correlation across voxels between its map and the query
    map, over the voxels of ``mask`` measured in both (missing voxels are left
    out pairwise, never counted as zeros). One pass over the data: each chunk
    of experiments adds, per experiment, the count and the sums of x, y, x², y²
    and xy in float64 (:func:`agea_xr.analysis._pairwise.pairwise_sums`), then
    ``r = (Σxy - ΣxΣy/n) / sqrt((Σx² - (Σx)²/n)(Σy² - (Σy)²/n))``, as
    ``numpy.corrcoef`` on those voxels. Spearman's rho is that r over the
    ranks of the common voxels (``scipy.stats.spearmanr``; ties get average
    ranks), one sort per experiment: several times slower.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset (``label`` needed for region masks and the default mask).
        Gene-specific: a cell-type or lipid dataset is refused; rank its items
        with :func:`agea_xr.similar` (same correlation, same p and q).
    query : str, int, xarray.DataArray or numpy.ndarray
        A gene symbol (its experiment's map; with several experiments, their
        voxel-wise mean, NaN ignored), an experiment id, or any ``(ml, dv, ap)``
        map on the dataset's grid (a correlation map, a cell type's density, a
        user's map; NaN = no value). An extra dimension of length 1 is dropped.
    mask : str, int, list of them, or boolean volume, optional
        The voxels compared: region acronyms or Allen ids (descendants included,
        see :func:`agea_xr.regions.region_mask`) or a boolean ``(ml, dv, ap)``
        volume. Default: every labelled (non-void) voxel.
    method : {"pearson", "spearman"}, default "pearson"
    mapping : str, default "Allen"
        Mapping used to find the mask's regions.
    hemisphere : {None, "left", "right"}, default None
        Restrict the mask to one hemisphere.
    per_gene : bool, default False
        One row per gene: ``r`` is the mean of its experiments' r through
        Fisher's z (``tanh(mean(arctanh(r)))``, r clipped to ±(1 - 1e-9)),
        ``r_max`` the best of them, ``n_voxels`` the sum.
    min_voxels : int, default 10
        Rows with fewer voxels measured in both get NaN ``r`` and rank last
        (at least 2 always needed).
    top : int, optional
        Keep the first ``top`` rows.
    n_null : int, optional
        Add ``p_spatial`` (two-sided p of ``r`` against ``n_null`` spatial nulls of
        the query, :func:`agea_xr.compare_maps`; with ``per_gene``, of the Fisher
        mean against the Fisher mean of the nulls) and ``q`` (Benjamini-Hochberg,
        over all rows before ``top``). Pearson only. Same pass over the data.
    random_state : int or numpy.random.Generator, optional
        Seed of the nulls.

    Returns
    -------
    pandas.DataFrame
        Ranked by ``r``, highest first (NaN last): columns ``rank``, ``gene``,
        ``experiment``, ``r``, ``n_voxels`` (voxels measured in both); with
        ``per_gene``: ``rank``, ``gene``, ``n_experiments``, ``experiments``,
        ``r``, ``r_max``, ``n_voxels``. ``attrs``: ``query`` (in words),
        ``method``, ``mask``, ``mapping``, ``hemisphere``, ``mask_voxels`` and
        ``query_voxels`` (mask voxels where the query has a value). The query's
        own experiment (an experiment id, or a gene with one experiment) ranks
        first with r = 1.

    Raises
    ------
    KeyError
        For an unknown gene symbol, experiment id or region acronym.
    ValueError
        For a map of the wrong shape or grid, a mask without voxels or where the
        query has fewer than ``min_voxels`` values or is constant, an unknown method
        or hemisphere, a negative or fractional ``min_voxels``/``top``/``random_state``,
        or a cell-type or lipid dataset.
    TypeError
        For a query of another type, or a ``random_state`` that is not an integer, a
        numpy Generator or None.

    Examples
    --------
    >>> import agea_xr
    >>> t = similar_genes(agea_xr.open_sample(), "Pdyn")
    >>> t[["rank", "gene", "r"]].round(3).values.tolist()[0]
    [1, 'Pdyn', 1.0]
    """
    import dask

    check_choice(method, SIMILARITY_METHODS, "method", "Spearman ranks each map's voxels.")
    min_voxels = check_count(min_voxels, "min_voxels")
    check_bool(per_gene, "per_gene")
    if top is not None:
        top = check_count(top, "top")
    mapping = check_mapping(mapping)
    values, words, _own = query_map(ds, query)
    selected = selection_mask(ds, mask, mapping, hemisphere, "similar_genes").reshape(-1)
    voxels = np.flatnonzero(selected)
    mask_words = describe(mask) if mask is not None else "brain"
    q = values.reshape(-1)[voxels]
    n_query = int(np.isfinite(q).sum())
    if n_query < max(min_voxels, 2):
        raise ValueError(
            f"The query {words} has a value in {n_query} of the {voxels.size} voxels of the "
            f"mask {mask_words!r} (hemisphere={hemisphere!r}), fewer than min_voxels="
            f"{min_voxels}: choose a larger mask or a query measured there."
        )
    measured = q[np.isfinite(q)]
    if np.ptp(measured) == 0:
        raise ValueError(
            f"The query {words} is constant ({measured[0]:g}) on its {n_query} voxels of the "
            f"mask {mask_words!r}: its correlation with any map is undefined. Choose a "
            "query that varies there, or another mask."
        )
    queries = prepare_queries(q)
    kernel = _pearson_kernel if method == "pearson" else _spearman_kernel
    matrix = expression_matrix(ds)
    sums = experiment_pass(matrix, kernel, (len(PAIR_FIELDS), 1), voxels, *queries)
    nulls = None
    if n_null is not None:
        n_null = check_integer(n_null, "n_null", minimum=1)
        check_random_state(random_state)
        if method != "pearson":
            raise ValueError("n_null (spatial p-values) needs method='pearson'.")
        used = np.zeros(values.size, dtype=bool)
        used[voxels[np.isfinite(q)]] = True
        nulls = decompose(q[np.isfinite(q)], used.reshape(values.shape))
    with one_blas_thread():
        sums, null_stats = dask.compute(sums, None if nulls is None else null_pass(matrix, nulls))
    r, n = pearson(sums, min_voxels)
    genes = np.asarray(ds["gene"].values, dtype=object)
    table = pd.DataFrame(
        {
            "gene": genes,
            EXPERIMENT: np.asarray(ds[EXPERIMENT].values),
            "r": r[:, 0],
            "n_voxels": n[:, 0],
        }
    )
    if nulls is not None:
        codes, names = pd.factorize(pd.Series(genes, dtype=object), sort=False)
        group = {"codes": codes, "n_groups": len(names)} if per_gene else {}
        options = {"min_voxels": min_voxels, "combine": "fisher"}
        _, p = spatial_p(null_stats, nulls, n_null, random_state, **group, **options)
        p_table = pd.DataFrame({"p_spatial": p, "q": q_values(p)})
    if per_gene:
        grouped = table.groupby("gene", sort=False)
        table = pd.DataFrame(
            {
                "n_experiments": grouped.size(),
                "experiments": grouped[EXPERIMENT].agg(tuple),
                "r": grouped["r"].agg(_fisher_mean),
                "r_max": grouped["r"].max(),
                "n_voxels": grouped["n_voxels"].sum(),
            }
        ).reset_index()
    if nulls is not None:
        table = pd.concat([table, p_table], axis=1)
    table = table.sort_values("r", ascending=False, na_position="last", kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table = table.reset_index(drop=True)
    if top is not None:
        table = table.head(top)
    table.attrs = {
        "query": words,
        "method": method,
        "mask": mask_words,
        "mapping": mapping,
        "hemisphere": hemisphere or "both",
        "mask_voxels": int(voxels.size),
        "query_voxels": n_query,
    }
    return table
