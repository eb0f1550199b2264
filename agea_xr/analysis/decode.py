"""Decoding a user's map: the genes whose expression matches it, and the regions it holds.

``decode`` is not a new statistic: it reads the map onto the grid
(:func:`agea_xr.maps.read_map`), then ranks the genes with the analyses the package
already has, and the regions with :func:`~agea_xr.analysis.region_expression` run on
the map itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .._choices import check_count
from ..layout import EXPERIMENT, GRID_DIMS
from ..maps import read_map
from .finder import gene_finder
from .items import genes_only
from .regions import region_expression
from .similar import similar_genes

__all__ = ["Decoding", "decode"]


@dataclass(frozen=True)
class Decoding:
    """What :func:`decode` finds.

    Attributes
    ----------
    genes : pandas.DataFrame
        Experiments (or genes) ranked by their match with the map: the table of
        :func:`~agea_xr.analysis.similar_genes` (column ``r``) for a continuous map, of
        :func:`~agea_xr.analysis.gene_finder` (column ``effect_size``) for a boolean one.
    regions : pandas.DataFrame
        Regions ranked by the map's mean over their voxels (highest first): columns
        ``region``, ``acronym``, ``name``, ``mean``, ``voxels`` (voxels of the region),
        ``measured`` (of them, where the map has a value).
    map : xarray.DataArray
        The map on the AGEA grid, as decoded.
    """

    genes: pd.DataFrame
    regions: pd.DataFrame
    map: xr.DataArray

    def __repr__(self) -> str:
        method = "gene finder (boolean map)" if self.map.dtype == bool else "similar genes"
        return (
            f"Decoding of the map {self.map.name!r} by {method}\n"
            f"genes (top 5 of {len(self.genes)}):\n{self.genes.head(5).to_string(index=False)}\n"
            f"regions (top 5 of {len(self.regions)}):\n"
            f"{self.regions.head(5).to_string(index=False)}"
        )


def _region_ranking(ds: xr.Dataset, grid_map: xr.DataArray, mapping: str) -> pd.DataFrame:
    """``region_expression`` run on the map itself, as a one-experiment dataset."""
    values = grid_map.astype(np.float32).drop_vars("coverage", errors="ignore")
    expression = values.expand_dims({EXPERIMENT: [0]}).transpose(EXPERIMENT, *GRID_DIMS)
    one = xr.Dataset(
        {"expression": expression.variable, "label": ds["label"].variable},
        coords={
            **{d: ds[d].variable for d in GRID_DIMS},
            EXPERIMENT: [0],
            "gene": (EXPERIMENT, np.array([str(grid_map.name or "map")], dtype=object)),
        },
    )
    stats = region_expression(one, mapping, ["mean", "count"]).compute()
    table = pd.DataFrame(
        {
            "region": stats["region"].values,
            "acronym": stats["acronym"].values,
            "name": stats["name"].values,
            "mean": stats["mean"].values[0],
            "voxels": stats["voxels"].values,
            "measured": stats["count"].values[0],
        }
    )
    table = table.sort_values("mean", ascending=False, na_position="last", kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table = table.reset_index(drop=True)
    table.attrs = {"mapping": mapping, "map": str(grid_map.name)}
    return table


@genes_only(
    "ranks genes (its result's genes table, from similar_genes or gene_finder)",
    "read the map with agea_xr.read_map(map), then rank the items with "
    "agea_xr.similar(grid_map, ds) (a continuous map) or ds.agea.gene_finder(grid_map) "
    "(a boolean one), and the regions with ds.agea.region_expression().",
)
def decode(
    ds: xr.Dataset,
    map: str | os.PathLike | xr.DataArray | np.ndarray,
    mask: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
    *,
    kind: str | None = None,
    resolution_um: float | None = None,
    orientation: str | None = None,
    method: str = "pearson",
    mapping: str = "Beryl",
    per_gene: bool = False,
    min_voxels: int = 10,
    top: int | None = None,
    n_null: int | None = None,
    random_state: int | np.random.Generator | None = None,
) -> Decoding:
    """Which genes are expressed in the pattern of a map, and which regions it holds.

    The map is read onto the AGEA grid by :func:`agea_xr.read_map` (a file in the CCF,
    an array, or a DataArray already on the grid). A continuous map is the query of
    :func:`~agea_xr.analysis.similar_genes`: every experiment ranked by its spatial
    correlation with the map over ``mask`` (missing voxels left out pairwise). A boolean
    map (a region the user drew) is the target of
    :func:`~agea_xr.analysis.gene_finder`: every experiment ranked by its enrichment
    there against the rest of ``mask`` (default: the rest of the brain). The regions
    come from :func:`~agea_xr.analysis.region_expression` on the map itself: the mean of
    the map over each region's voxels, highest first.

    Brain maps are spatially autocorrelated, so ``r`` alone is a ranking, not a test:
    with ``n_null`` the gene table gets ``p_spatial`` (against surrogate maps that keep
    the map's spatial autocorrelation, :func:`agea_xr.null_maps`) and ``q``
    (Benjamini-Hochberg), from :func:`~agea_xr.analysis.similar_genes` or
    :func:`~agea_xr.analysis.gene_finder` (see the "Spatial statistics" page).

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset with ``expression`` and ``label``. Gene-specific: a
        cell-type or lipid dataset is refused (the message says what to use).
    map : str, os.PathLike, xarray.DataArray or numpy.ndarray
        The map; see :func:`agea_xr.read_map`.
    mask : str, int, list of them, or boolean volume, optional
        Continuous map: the voxels compared (default: every labelled voxel). Boolean
        map: the contrast (default: the rest of the brain).
    kind : {None, "continuous", "labels", "mask"}, optional
        How to read the map (:func:`agea_xr.read_map`); ``"labels"`` is refused (a
        label map is not one pattern: pass a boolean map of the regions of interest).
    resolution_um, orientation : optional
        For arrays and files without geometry (:func:`agea_xr.read_map`).
    method : {"pearson", "spearman"}, default "pearson"
        Correlation of :func:`~agea_xr.analysis.similar_genes` (continuous maps).
    mapping : str, default "Beryl"
        Mapping of the region ranking, and of ``mask`` regions.
    per_gene : bool, default False
        One row per gene (each analysis' pooling).
    min_voxels : int, default 10
        Fewest voxels a row needs (measured in both, or in the target and contrast).
    top : int, optional
        Keep the first ``top`` rows of the gene table.
    n_null : int, optional
        Surrogate maps for ``p_spatial`` and ``q`` (e.g. 1000); None computes none.
        Not with ``method="spearman"``.
    random_state : int or numpy.random.Generator, optional
        Seed of the surrogates, for reproducible p-values.

    Returns
    -------
    Decoding
        ``genes`` (ranked table), ``regions`` (ranked table), ``map`` (on the grid).

    Raises
    ------
    ValueError
        For a map that cannot be read onto the grid (see :func:`agea_xr.read_map`), a
        label map, an empty mask, bad counts, or a cell-type or lipid dataset.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> striatum = ds.agea.region_mask("CP").astype("float32")   # a map of the caudoputamen
    >>> found = decode(ds, striatum)
    >>> found.genes["gene"].tolist(), found.regions["acronym"].iloc[0]
    (['Pdyn', 'Nrp1'], 'CP')
    """
    min_voxels = check_count(min_voxels, "min_voxels")
    grid_map = read_map(map, kind=kind, resolution_um=resolution_um, orientation=orientation)
    if grid_map.dtype.kind in "iu" and grid_map.attrs.get("kind") == "labels":
        raise ValueError(
            "A label map is not one pattern to decode: pass a boolean map of the regions "
            "of interest (e.g. labels == id), or a continuous map."
        )
    if grid_map.name is None:
        grid_map = grid_map.rename("map")
    common = {
        "mapping": mapping,
        "per_gene": per_gene,
        "min_voxels": min_voxels,
        "top": top,
        "n_null": n_null,
        "random_state": random_state,
    }
    query = grid_map.drop_vars("coverage", errors="ignore")
    if grid_map.dtype == bool:  # a region the user drew: the gene finder's target
        genes = gene_finder(ds, query, mask, **common)
    else:
        genes = similar_genes(ds, query, mask, method=method, **common)
    return Decoding(genes, _region_ranking(ds, grid_map, mapping), grid_map)
