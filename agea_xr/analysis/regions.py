"""Region x experiment (or region x gene) matrices of expression statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import kernels
from .._choices import check_choice
from ..gene_index import set_gene_index
from ..layout import EXPERIMENT
from ..regions import (
    brain_regions,
    check_mapping,
    index_of_ids,
    is_left,
    label_of,
    region_indices,
)
from ._chunks import expression_matrix, group_sums, segment_medians, segment_sums
from ._region_index import RegionIndex
from .items import on_items

__all__ = ["HEMISPHERE_CHOICES", "STATS", "region_expression"]

#: Statistics :func:`region_expression` computes.
STATS = ("mean", "median", "std", "count", "fraction_measured")
#: Hemisphere choices of :func:`region_expression` (None: both hemispheres merged).
HEMISPHERE_CHOICES = (None, "left", "right", "split")

#: long_name of each statistic.
_LONG_NAMES = {
    "mean": "mean expression energy of the measured voxels",
    "median": "median expression energy of the measured voxels",
    "std": "standard deviation (ddof=0) of the expression energy of the measured voxels",
    "count": "number of measured voxels",
    "fraction_measured": "fraction of the region's voxels that are measured",
}
#: CF cell_methods of each statistic (None: no CF method describes it).
_CELL_METHODS = {
    "mean": "area: mean",
    "median": "area: median",
    "std": "area: standard_deviation",
    "count": None,
    "fraction_measured": None,
}


def _region_codes(
    ds: xr.Dataset, mapping: str, hemisphere: str | None
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Region code of every voxel (-1: left out), the table of the regions, label indices.

    Under a lateralised (``-lr``) mapping, and with any ``hemisphere``, every
    row holds one hemisphere, decided by position: left voxels get the negative
    id. iblatlas' ``Beryl-lr`` and ``Cosmos-lr`` give the left voxels they leave
    unassigned the positive ``root`` id (997), so without this the ``root`` row
    would hold both hemispheres.
    """
    mapping = check_mapping(mapping)
    hemisphere = check_choice(
        hemisphere, HEMISPHERE_CHOICES, "hemisphere", "Left is x < 0 (ML); 'split' keeps both."
    )
    label = label_of(ds)
    br = brain_regions()
    label_values = label.values
    ids = br.id[region_indices(label_values, mapping)].astype(np.int64)
    inside = ids != 0
    if hemisphere is not None or mapping.endswith("-lr"):
        left = is_left(label)
        ids = np.where(left, -np.abs(ids), np.abs(ids))
        if hemisphere == "left":
            inside &= left
        elif hemisphere == "right":
            inside &= ~left
    present = np.unique(ids[inside])
    position = index_of_ids(present)
    present = present[np.argsort(position, kind="stable")]  # iblatlas (hierarchy) order
    position = np.sort(position)
    codes = np.full(ids.shape, -1, dtype=np.int64)
    by_id = np.argsort(present, kind="stable")
    codes[inside] = by_id[np.searchsorted(present[by_id], ids[inside])]
    table = pd.DataFrame(
        {
            "region": present,
            "acronym": br.acronym[position].astype(str),
            "name": br.name[position].astype(str),
            "voxels": np.bincount(codes[inside], minlength=present.size).astype(np.int64),
        }
    )
    if hemisphere is not None or (present < 0).any():
        table["hemisphere"] = np.where(present < 0, "left", "right")
    return codes.reshape(-1), table, np.unique(label_values)


def _region_coords(table: pd.DataFrame) -> dict[str, Any]:
    coords: dict[str, Any] = {
        "region": (
            "region",
            table["region"].to_numpy(),
            {"long_name": "Allen structure id (negative: left hemisphere)"},
        ),
        "acronym": ("region", table["acronym"].to_numpy(dtype=object)),
        "name": ("region", table["name"].to_numpy(dtype=object)),
        "voxels": (
            "region",
            table["voxels"].to_numpy(),
            {"long_name": "voxels of the region on the 200 um grid"},
        ),
    }
    if "hemisphere" in table:
        coords["hemisphere"] = ("region", table["hemisphere"].to_numpy(dtype=object))
    return coords


def _stats_from_sums(sums, stat: str, voxels: np.ndarray):
    """One statistic from lazy ``(rows, 3, R)`` sums (count, sum, sum of squares)."""
    import dask.array as dska

    count, total, sq = sums[:, 0, :], sums[:, 1, :], sums[:, 2, :]
    if stat == "count":
        return count.astype(np.int64)
    if stat == "fraction_measured":
        return count / np.maximum(voxels, 1)[None, :]
    safe = dska.maximum(count, 1.0)
    mean = dska.where(count > 0, total / safe, np.nan)
    if stat == "mean":
        return mean
    var = dska.where(count > 0, dska.maximum(sq - total * mean, 0.0) / safe, np.nan)
    return dska.sqrt(var)


def _attrs(stat: str, common: dict[str, Any], combine_genes: bool) -> dict[str, Any]:
    attrs = {"long_name": _LONG_NAMES[stat]}
    if _CELL_METHODS[stat]:
        attrs["cell_methods"] = _CELL_METHODS[stat]
    pooled = " of all the experiments of each gene" if combine_genes else ""
    attrs["comment"] = (
        f"Over the measured voxels of each region{pooled}: voxels without a measurement "
        "(-1 in the release files, NaN once decoded) are left out, not counted as zeros."
    )
    return {**attrs, **common}


@on_items("rows", combine_genes="pools the experiments of each gene: genes only.")
def region_expression(
    ds: xr.Dataset,
    mapping: str = "Beryl",
    stat: str | Sequence[str] = "mean",
    *,
    hemisphere: str | None = None,
    combine_genes: bool = False,
    variable: str | None = None,
) -> xr.DataArray | xr.Dataset:
    """Region x experiment (or region x gene) matrix of expression statistics.

    One pass over the data: each chunk of experiments is reduced to per-region
    counts, sums and sums of squares of its *measured* voxels (missing voxels
    are left out, never counted as zeros). ``median`` needs the values of each
    region sorted, a separate and slower pass (a few times the cost of the
    others), and is not combined with the others in one pass.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset with ``expression`` and ``label`` (as
        :func:`agea_xr.open_dataset` returns; any selection of experiments or of
        ranges of voxels works).
    mapping : str, default "Beryl"
        iblatlas mapping that assigns voxels to regions: ``Allen``, ``Beryl``,
        ``Cosmos``, ``Swanson``, or one of them with ``-lr``: every row then holds
        one hemisphere, left rows with negative ids (as ``hemisphere="split"``).
    stat : str or sequence of str, default "mean"
        One of :data:`STATS`: ``mean``, ``median``, ``std`` (population, ddof=0),
        ``count`` (measured voxels), ``fraction_measured`` (count / voxels of the
        region). A sequence gives a Dataset with one variable per statistic,
        computed in one pass.
    hemisphere : {None, "left", "right", "split"}, default None
        None merges both hemispheres (under a ``-lr`` mapping they stay apart);
        ``"left"``/``"right"`` keep one (decided by position: left is x < 0);
        ``"split"`` gives each region twice, the left copy with a negative id.
    combine_genes : bool, default False
        Pool the experiments of each gene (their measured voxels together), giving
        a ``(gene, region)`` result with an ``n_experiments`` coordinate. Not
        available for ``median``. Gene-specific: not for other items.
    variable : str, optional
        Another ``(item, ml, dv, ap)`` variable than ``expression``: the
        ``density`` of :func:`agea_xr.open_cell_types`, the ``intensity`` of
        :func:`agea_xr.open_lipids` (the default for a dataset without
        ``expression``: its one such variable). Rows are then its items, with their
        coordinates (names, colours, parents), and NaN values are left out.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        Lazy (dask), dims ``(experiment, region)`` or ``(gene, region)``, float64
        (int64 for ``count``); NaN where a region has no measured voxel.
        Coordinates: ``experiment`` and ``gene`` (indexed: ``.sel(gene="Pdyn")``),
        ``region`` (Allen id), ``acronym``, ``name``, ``voxels`` (region size on
        the grid), and ``hemisphere`` when hemispheres are told apart. Regions
        are those the mapping assigns to at least one voxel (``void`` left out),
        in iblatlas order. Under ``Beryl``, ``Cosmos`` and ``Swanson`` this
        includes a ``root`` row (id 997): the brain voxels the mapping leaves
        unassigned (fibre tracts, ventricles, structures it does not list; about
        9,000 voxels under Beryl). With hemispheres apart (``-lr`` mappings,
        ``"split"``) the left ones are the ``root`` row ``-997``; iblatlas'
        ``Beryl-lr`` and ``Cosmos-lr`` give them ``+997``, here they stay left.
        Drop them with ``.drop_sel(region=[997, -997])`` for named regions only.
        ``.sel(region=...)`` of a region that is not a row says which mappings
        have it as a row. With no experiment selected the result has 0 rows.
        Statistics carry ``long_name``, ``cell_methods`` (CF: ``area: mean``,
        ``area: median``, ``area: standard_deviation``), ``comment``, ``mapping``
        and ``hemisphere`` attributes.

    Raises
    ------
    ValueError
        For an unknown mapping, statistic or hemisphere, ``median`` with
        ``combine_genes``, or a dataset without ``expression`` or ``label``.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> m = region_expression(ds, "Cosmos").compute()
    >>> m.dims
    ('experiment', 'region')
    >>> float(m.sel(gene="Pdyn").sel(region=623).squeeze()) > float(
    ...     m.sel(gene="Pdyn").sel(region=512).squeeze())  # striatum (CNU) vs cerebellum
    True
    """
    import dask.array as dska

    stats = [stat] if isinstance(stat, str) else list(stat)
    if not stats:
        raise ValueError(f"No statistic asked: choose from {', '.join(STATS)}.")
    for s in stats:
        check_choice(s, STATS, "statistic")
    if combine_genes and "median" in stats:
        raise ValueError(
            "stat='median' cannot pool the experiments of a gene (that would need all "
            "their voxels at once): use combine_genes=False, then e.g. "
            "result.groupby('gene').median(), or stat='mean'."
        )
    matrix = expression_matrix(ds)
    codes, table, present = _region_codes(ds, mapping, hemisphere)
    perm, bounds = kernels.segments(codes, len(table))
    voxels = table["voxels"].to_numpy()
    coords = _region_coords(table)
    genes = ds["gene"].values if "gene" in ds.coords else None

    sums = None
    if any(s != "median" for s in stats):
        sums = segment_sums(matrix, perm, bounds)
    if combine_genes:
        if genes is None:
            raise ValueError("combine_genes=True needs the 'gene' coordinate of the dataset.")
        gene_codes, gene_names = pd.factorize(pd.Series(genes, dtype=object), sort=False)
        n_genes = len(gene_names)
        sums = dska.map_blocks(
            group_sums,
            sums.rechunk({0: -1}),
            chunks=((n_genes,), (len(kernels.SUM_FIELDS),), (len(table),)),
            dtype=np.float64,
            codes=gene_codes,
            n_groups=n_genes,
        )
        row_dim = "gene"
        coords["gene"] = ("gene", np.asarray(gene_names, dtype=object))
        coords["n_experiments"] = ("gene", np.bincount(gene_codes, minlength=n_genes))
    else:
        row_dim = EXPERIMENT
        coords[EXPERIMENT] = (EXPERIMENT, ds[EXPERIMENT].values, ds[EXPERIMENT].attrs)
        if genes is not None:
            coords["gene"] = (EXPERIMENT, genes)

    mapping = check_mapping(mapping)
    common = {"mapping": mapping, "hemisphere": hemisphere or "both"}
    variables = {}
    for s in stats:
        if s == "median":
            values = segment_medians(matrix, perm, bounds)
        else:
            values = _stats_from_sums(sums, s, voxels)
        variables[s] = xr.DataArray(
            values,
            dims=(row_dim, "region"),
            coords=coords,
            name=s,
            attrs=_attrs(s, common, combine_genes),
        )
    result = xr.Dataset(variables, attrs=common) if not isinstance(stat, str) else variables[stat]
    result = result.drop_indexes("region").set_xindex(
        "region", RegionIndex, mapping=mapping, hemisphere=hemisphere, present=present
    )
    if not combine_genes and genes is not None:
        result = set_gene_index(result)
    return result
