"""The ``.agea`` accessor: one-line delegations with the full signatures of the functions.

Stateless and thin, as cf_xarray's and xvec's accessors: every method forwards to
the module-level function named in :data:`DELEGATES`, with exactly that
function's parameters (a test compares each pair of signatures), so ``help()``
and Jupyter's Shift-Tab show every keyword. ``Dataset.agea`` holds everything;
``DataArray.agea`` holds only what works on a DataArray (genes, regions when the
DataArray carries a ``label`` coordinate, points, pictures, export). The
atlas-scale analyses need a whole Dataset and exist only on ``Dataset.agea``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .analysis.decode import Decoding

__all__ = ["DELEGATES", "AgeaDataArrayAccessor", "AgeaDatasetAccessor"]

#: Accessor method -> ``module:function`` it calls with the xarray object first.
DELEGATES = MappingProxyType(
    {
        "regions": "agea_xr.regions:region_volume",
        "region_table": "agea_xr.regions:region_table",
        "region_mask": "agea_xr.regions:region_mask",
        "sel_region": "agea_xr.regions:sel_region",
        "genes": "agea_xr.genes:genes",
        "search_genes": "agea_xr.genes:search_genes",
        "gene": "agea_xr.genes:gene",
        "at": "agea_xr.points:at",
        "region_at": "agea_xr.points:region_at",
        "to_brain_atlas": "agea_xr.bridge:to_brain_atlas",
        "plot_slice": "agea_xr.plot:plot_slice",
        "plot_overview": "agea_xr.plot:plot_overview",
        "export": "agea_xr.export:export",
        "region_expression": "agea_xr.analysis:region_expression",
        "seed_correlation": "agea_xr.analysis:seed_correlation",
        "gene_finder": "agea_xr.analysis:gene_finder",
        "voxel_matrix": "agea_xr.analysis:voxel_matrix",
        "decode": "agea_xr.analysis.decode:decode",
        "similar_genes": "agea_xr.analysis:similar_genes",
        "clusters": "agea_xr.analysis:clusters",
        "region_map": "agea_xr.analysis:region_map",
    }
)
#: Methods that take no xarray object (the function's parameters are all the method's).
UNBOUND = frozenset({"region_table"})


class _AgeaAccessor:
    """What ``Dataset.agea`` and ``DataArray.agea`` share."""

    def __init__(self, obj: xr.Dataset | xr.DataArray) -> None:
        self._obj = obj

    def __repr__(self) -> str:
        obj = self._obj
        kind = type(obj).__name__
        sizes = ", ".join(f"{d}: {n}" for d, n in obj.sizes.items())
        methods = sorted(m for m in dir(type(self)) if not m.startswith("_"))
        return (
            f"<agea accessor on an xarray.{kind} ({sizes})>\n"
            f"AGEA tools (help(obj.agea.<name>) for each): {', '.join(methods)}"
        )

    # --- genes (agea_xr.genes) ----------------------------------------------------------
    def genes(self) -> pd.DataFrame:
        """The gene table; see :func:`agea_xr.genes.genes`."""
        from .genes import genes

        return genes(self._obj)

    def search_genes(self, pattern: str) -> list[str]:
        """Gene symbols matching a pattern; see :func:`agea_xr.genes.search_genes`."""
        from .genes import search_genes

        return search_genes(self._obj, pattern)

    def gene(self, symbol: str, combine: str | None = "mean") -> xr.DataArray:
        """One gene's volume; see :func:`agea_xr.genes.gene`."""
        from .genes import gene

        return gene(self._obj, symbol, combine=combine)

    # --- brain regions (agea_xr.regions) ------------------------------------------------
    def regions(self, mapping: str = "Allen") -> xr.DataArray:
        """Region id of every voxel; see :func:`agea_xr.regions.region_volume`."""
        from .regions import region_volume

        return region_volume(self._obj, mapping)

    def region_table(self, mapping: str = "Allen") -> pd.DataFrame:
        """The regions of a mapping; see :func:`agea_xr.regions.region_table`."""
        from .regions import region_table

        return region_table(mapping)

    def region_mask(
        self,
        regions: str | int | Iterable[str | int],
        mapping: str = "Allen",
        hemisphere: str | None = None,
        descendants: bool = True,
    ) -> xr.DataArray:
        """Boolean volume of regions; see :func:`agea_xr.regions.region_mask`."""
        from .regions import region_mask

        return region_mask(self._obj, regions, mapping, hemisphere, descendants)

    def sel_region(
        self,
        regions: str | int | Iterable[str | int],
        mapping: str = "Allen",
        hemisphere: str | None = None,
        crop: bool = False,
    ) -> xr.Dataset | xr.DataArray:
        """The data masked to regions; see :func:`agea_xr.regions.sel_region`."""
        from .regions import sel_region

        return sel_region(self._obj, regions, mapping, hemisphere, crop)

    # --- points and the iblatlas BrainAtlas ---------------------------------------------
    def at(self, xyz: Any, mode: str = "raise") -> xr.DataArray:
        """Values at points (metres); see :func:`agea_xr.points.at`."""
        from .points import at

        return at(self._obj, xyz, mode)

    def region_at(self, xyz: Any, mapping: str = "Allen", mode: str = "raise") -> xr.DataArray:
        """Region ids at points (metres); see :func:`agea_xr.points.region_at`."""
        from .points import region_at

        return region_at(self._obj, xyz, mapping, mode)

    def to_brain_atlas(self):
        """An ``iblatlas.atlas.BrainAtlas``; see :func:`agea_xr.bridge.to_brain_atlas`."""
        from .bridge import to_brain_atlas

        return to_brain_atlas(self._obj)

    def region_map(
        self,
        values: xr.DataArray | pd.Series,
        mapping: str | None = None,
    ) -> xr.DataArray:
        """Per-region values painted onto the grid; see :func:`agea_xr.region_map`."""
        from .analysis import region_map

        return region_map(self._obj, values, mapping)

    # --- pictures (agea_xr.plot) --------------------------------------------------------
    def plot_slice(
        self,
        gene: str | None = None,
        *,
        ap: float | None = None,
        ml: float | None = None,
        dv: float | None = None,
        boundaries: bool | None = None,
        mapping: str = "Beryl",
        ax: Any = None,
        cmap: Any = None,
        vmin: float | None = None,
        vmax: float | None = None,
        missing_color: Any = None,
        boundary_color: Any = None,
        colorbar: bool = True,
    ):
        """A slice with region boundaries; see :func:`agea_xr.plot.plot_slice`."""
        from .plot import plot_slice

        return plot_slice(
            self._obj,
            gene,
            ap=ap,
            ml=ml,
            dv=dv,
            boundaries=boundaries,
            mapping=mapping,
            ax=ax,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            missing_color=missing_color,
            boundary_color=boundary_color,
            colorbar=colorbar,
        )

    def plot_overview(
        self,
        gene: str | None = None,
        *,
        xyz: Any = None,
        boundaries: bool | None = None,
        mapping: str = "Beryl",
        fig: Any = None,
        cmap: Any = None,
        vmin: float | None = None,
        vmax: float | None = None,
        missing_color: Any = None,
        boundary_color: Any = None,
    ):
        """Coronal, sagittal and horizontal sections; see :func:`agea_xr.plot.plot_overview`."""
        from .plot import plot_overview

        return plot_overview(
            self._obj,
            gene,
            xyz=xyz,
            boundaries=boundaries,
            mapping=mapping,
            fig=fig,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            missing_color=missing_color,
            boundary_color=boundary_color,
        )

    # --- export (agea_xr.export) --------------------------------------------------------
    def export(
        self,
        path: str | os.PathLike,
        format: str | None = None,
        *,
        variant: str | None = None,
        genes: str | Iterable[str] | None = None,
        experiments: int | Iterable[int] | None = None,
        regions: str | int | Iterable[str | int] | None = None,
        mapping: str = "Allen",
        hemisphere: str | None = None,
        crop: bool = True,
        storage_options: Mapping[str, Any] | None = None,
        chunks: int = 1,
        shards: int | None = 32,
        dtype: str | None = None,
        engine: str = "netcdf4",
        origin: str | None = None,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Path:
        """Write to netCDF, Zarr, OME-Zarr, NIfTI or NRRD; see :func:`agea_xr.export.export`."""
        from .export import export

        return export(
            self._obj,
            path,
            format,
            variant=variant,
            genes=genes,
            experiments=experiments,
            regions=regions,
            mapping=mapping,
            hemisphere=hemisphere,
            crop=crop,
            storage_options=storage_options,
            chunks=chunks,
            shards=shards,
            dtype=dtype,
            engine=engine,
            origin=origin,
            overwrite=overwrite,
            progress=progress,
        )


@xr.register_dataset_accessor("agea")
class AgeaDatasetAccessor(_AgeaAccessor):
    """``ds.agea``: AGEA tools on a Dataset opened by :func:`agea_xr.open_dataset`.

    Also on the cell types and lipids (:func:`agea_xr.open_cell_types`,
    :func:`agea_xr.open_lipids`): the region tools and the analyses that make sense
    on any item axis; the gene-specific ones say what to use instead.
    """

    # --- analyses at atlas scale (agea_xr.analysis) -------------------------------------
    def region_expression(
        self,
        mapping: str = "Beryl",
        stat: str | Sequence[str] = "mean",
        *,
        hemisphere: str | None = None,
        combine_genes: bool = False,
        variable: str | None = None,
    ) -> xr.DataArray | xr.Dataset:
        """Region x experiment statistics; see :func:`agea_xr.region_expression`."""
        from .analysis import region_expression

        return region_expression(
            self._obj,
            mapping,
            stat,
            hemisphere=hemisphere,
            combine_genes=combine_genes,
            variable=variable,
        )

    def seed_correlation(
        self,
        xyz: Sequence[float] | None = None,
        *,
        region: str | int | Iterable[str | int] | None = None,
        mapping: str = "Allen",
        hemisphere: str | None = None,
        min_experiments: int = 10,
        variable: str | None = None,
    ) -> xr.DataArray:
        """Correlation map with a seed; see :func:`agea_xr.seed_correlation`."""
        from .analysis import seed_correlation

        return seed_correlation(
            self._obj,
            xyz,
            region=region,
            mapping=mapping,
            hemisphere=hemisphere,
            min_experiments=min_experiments,
            variable=variable,
        )

    def gene_finder(
        self,
        target: str | int | Iterable[str | int] | xr.DataArray | np.ndarray,
        contrast: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
        *,
        mapping: str = "Allen",
        hemisphere: str | None = None,
        per_gene: bool = False,
        min_voxels: int = 3,
        sort_by: str = "effect_size",
        top: int | None = None,
        n_null: int | None = None,
        random_state: int | np.random.Generator | None = None,
        variable: str | None = None,
    ) -> pd.DataFrame:
        """Experiments (or items) ranked by enrichment; see :func:`agea_xr.gene_finder`."""
        from .analysis import gene_finder

        return gene_finder(
            self._obj,
            target,
            contrast,
            mapping=mapping,
            hemisphere=hemisphere,
            per_gene=per_gene,
            min_voxels=min_voxels,
            sort_by=sort_by,
            top=top,
            n_null=n_null,
            random_state=random_state,
            variable=variable,
        )

    def voxel_matrix(
        self,
        mask: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
        *,
        mapping: str = "Allen",
        hemisphere: str | None = None,
        variable: str | None = None,
    ) -> xr.DataArray:
        """The (voxel, experiment or item) matrix; see :func:`agea_xr.voxel_matrix`."""
        from .analysis import voxel_matrix

        return voxel_matrix(
            self._obj, mask, mapping=mapping, hemisphere=hemisphere, variable=variable
        )

    def decode(
        self,
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
        """Genes and regions matching your own map; see :func:`agea_xr.analysis.decode.decode`."""
        from .analysis.decode import decode

        return decode(
            self._obj,
            map,
            mask,
            kind=kind,
            resolution_um=resolution_um,
            orientation=orientation,
            method=method,
            mapping=mapping,
            per_gene=per_gene,
            min_voxels=min_voxels,
            top=top,
            n_null=n_null,
            random_state=random_state,
        )

    def similar_genes(
        self,
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
        """Experiments ranked by map similarity; see :func:`agea_xr.similar_genes`."""
        from .analysis import similar_genes

        return similar_genes(
            self._obj,
            query,
            mask,
            method=method,
            mapping=mapping,
            hemisphere=hemisphere,
            per_gene=per_gene,
            min_voxels=min_voxels,
            top=top,
            n_null=n_null,
            random_state=random_state,
        )

    def clusters(
        self,
        n_clusters: int | Sequence[int] = 20,
        genes: str | Iterable[str] | None = None,
        mask: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
        *,
        method: str = "ward",
        mapping: str = "Allen",
        hemisphere: str | None = None,
        connectivity: bool = False,
        n_components: int = 30,
        n_microclusters: int | None = None,
        random_state: int | None = None,
        variable: str | None = None,
    ) -> xr.DataArray:
        """A parcellation by expression (or item) profiles; see :func:`agea_xr.clusters`."""
        from .analysis import clusters

        return clusters(
            self._obj,
            n_clusters,
            genes,
            mask,
            method=method,
            mapping=mapping,
            hemisphere=hemisphere,
            connectivity=connectivity,
            n_components=n_components,
            n_microclusters=n_microclusters,
            random_state=random_state,
            variable=variable,
        )


@xr.register_dataarray_accessor("agea")
class AgeaDataArrayAccessor(_AgeaAccessor):
    """``da.agea``: AGEA tools on a DataArray (e.g. ``ds.expression`` or a gene's volume).

    The atlas-scale analyses (``region_expression``, ``seed_correlation``,
    ``gene_finder``, ``voxel_matrix``) need the whole Dataset: call them on
    ``ds.agea``.
    """
