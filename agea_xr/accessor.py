"""The ``.agea`` accessor on Dataset and DataArray: one-line delegations.

Stateless and thin: every method forwards to a module-level function that
takes the xarray object (regions, points, plot, analysis, export), so the
same functionality is importable without the accessor. Accessors are rebuilt
for every new object; nothing is cached here.
"""

from __future__ import annotations

import xarray as xr

__all__ = ["AgeaAccessor", "AgeaDataArrayAccessor", "AgeaDatasetAccessor"]


class AgeaAccessor:
    """Methods shared by ``Dataset.agea`` and ``DataArray.agea``."""

    def __init__(self, obj: xr.Dataset | xr.DataArray) -> None:
        self._obj = obj

    # --- regions and genes (regions.py, genes.py) -----------------------------------
    def regions(self, mapping: str = "Allen") -> xr.DataArray:
        """Region id of every voxel under ``mapping`` (see :func:`agea_xr.regions.region_volume`).

        Parameters
        ----------
        mapping : str, default "Allen"
            ``Allen``, ``Beryl``, ``Cosmos``, ``Swanson``, or one of them with ``-lr``.

        Returns
        -------
        xarray.DataArray
            int64 ids, dims ``(ml, dv, ap)``.
        """
        from .regions import region_volume

        return region_volume(self._obj, mapping)

    def region_table(self, mapping: str = "Allen"):
        """Id, acronym, name, rgb, level and parent of a mapping's regions.

        See :func:`agea_xr.regions.region_table`.

        Parameters
        ----------
        mapping : str, default "Allen"

        Returns
        -------
        pandas.DataFrame
        """
        from .regions import region_table

        return region_table(mapping)

    def region_mask(
        self, regions, mapping: str = "Allen", hemisphere: str | None = None
    ) -> xr.DataArray:
        """Boolean volume of one or several regions, descendants included.

        See :func:`agea_xr.regions.region_mask`.

        Parameters
        ----------
        regions : str, int or list of them
            Acronyms or Allen ids.
        mapping : str, default "Allen"
        hemisphere : {None, "left", "right"}

        Returns
        -------
        xarray.DataArray
            bool, dims ``(ml, dv, ap)``.
        """
        from .regions import region_mask

        return region_mask(self._obj, regions, mapping=mapping, hemisphere=hemisphere)

    def sel_region(
        self, regions, mapping: str = "Allen", hemisphere: str | None = None, crop: bool = False
    ) -> xr.Dataset | xr.DataArray:
        """The data masked to one or several regions, optionally cropped to them.

        See :func:`agea_xr.regions.sel_region`.

        Parameters
        ----------
        regions, mapping, hemisphere
            As for :meth:`region_mask`.
        crop : bool, default False

        Returns
        -------
        xarray.Dataset or xarray.DataArray
        """
        from .regions import sel_region

        return sel_region(self._obj, regions, mapping=mapping, hemisphere=hemisphere, crop=crop)

    def genes(self):
        """The gene table: gene, experiments, n_experiments (see :func:`agea_xr.genes.genes`).

        Returns
        -------
        pandas.DataFrame
        """
        from .genes import genes

        return genes(self._obj)

    def search_genes(self, pattern: str) -> list[str]:
        """Gene symbols matching ``pattern``, case-insensitively.

        See :func:`agea_xr.genes.search_genes`.

        Parameters
        ----------
        pattern : str

        Returns
        -------
        list of str
        """
        from .genes import search_genes

        return search_genes(self._obj, pattern)

    def gene(self, symbol: str, combine: str | None = "mean") -> xr.DataArray:
        """One gene's volume: NaN-aware mean of its experiments, or all of them.

        See :func:`agea_xr.genes.gene`.

        Parameters
        ----------
        symbol : str
        combine : {"mean", None}, default "mean"

        Returns
        -------
        xarray.DataArray
        """
        from .genes import gene

        return gene(self._obj, symbol, combine=combine)

    # --- points and the iblatlas bridge (points.py, bridge) ---------------------------
    def at(self, xyz, mode: str = "raise") -> xr.DataArray:
        """Values at points (metres; x=ML, y=AP, z=DV), nearest voxel.

        See :func:`agea_xr.points.at`.

        Parameters
        ----------
        xyz : array-like, shape (n, 3)
        mode : {"raise", "clip", "nan"}, default "raise"

        Returns
        -------
        xarray.DataArray
            Dims ``("point", "experiment")``.
        """
        from .points import at

        return at(self._obj, xyz, mode=mode)

    def region_at(self, xyz, mapping: str = "Allen", mode: str = "raise") -> xr.DataArray:
        """Region ids at points, as iblatlas ``BrainAtlas.get_labels``.

        See :func:`agea_xr.points.region_at`.

        Parameters
        ----------
        xyz : array-like, shape (n, 3)
        mapping : str, default "Allen"
        mode : {"raise", "clip", "nan"}, default "raise"

        Returns
        -------
        xarray.DataArray
            Dims ``("point",)``.
        """
        from .points import region_at

        return region_at(self._obj, xyz, mapping=mapping, mode=mode)

    def to_brain_atlas(self):
        """An ``iblatlas.atlas.BrainAtlas`` of this grid, label and image.

        See :func:`agea_xr.points.to_brain_atlas`.

        Returns
        -------
        iblatlas.atlas.BrainAtlas
        """
        from .points import to_brain_atlas

        return to_brain_atlas(self._obj)

    # --- pictures (plot.py) ---------------------------------------------------------
    def plot_slice(self, gene: str | None = None, **kwargs):
        """A coronal/sagittal/horizontal slice in mm with region boundaries.

        See :func:`agea_xr.plot.plot_slice` for the keywords (``ap``/``ml``/``dv`` in
        metres, ``boundaries``, ``mapping``, ``ax``, ...).

        Parameters
        ----------
        gene : str, optional
        **kwargs
            Passed to :func:`agea_xr.plot.plot_slice`.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from .plot import plot_slice

        return plot_slice(self._obj, gene, **kwargs)

    # --- analyses (analysis.py) -----------------------------------------------------
    def region_expression(
        self,
        mapping: str = "Beryl",
        stat="mean",
        *,
        hemisphere: str | None = None,
        combine_genes: bool = False,
    ):
        """Region x experiment (or gene) matrix of expression statistics, lazily.

        See :func:`agea_xr.analysis.region_expression`.

        Parameters
        ----------
        mapping : str, default "Beryl"
        stat : str or list of str, default "mean"
            ``mean``, ``median``, ``std``, ``count``, ``fraction_measured``.
        hemisphere : {None, "left", "right", "split"}
        combine_genes : bool, default False

        Returns
        -------
        xarray.DataArray or xarray.Dataset
            Dims ``(experiment, region)`` or ``(gene, region)``.
        """
        from .analysis import region_expression

        return region_expression(
            self._obj, mapping, stat, hemisphere=hemisphere, combine_genes=combine_genes
        )

    def seed_correlation(self, xyz=None, **kwargs) -> xr.DataArray:
        """Pearson r map, across experiments, of every voxel with a seed point or region.

        See :func:`agea_xr.analysis.seed_correlation` for the keywords (``region``,
        ``mapping``, ``hemisphere``, ``min_experiments``).

        Parameters
        ----------
        xyz : sequence of 3 floats, optional
            Metres from bregma, x=ML, y=AP, z=DV.
        **kwargs
            Passed to :func:`agea_xr.analysis.seed_correlation`.

        Returns
        -------
        xarray.DataArray
            Dims ``(ml, dv, ap)``, lazy.
        """
        from .analysis import seed_correlation

        return seed_correlation(self._obj, xyz, **kwargs)

    def gene_finder(self, target, contrast=None, **kwargs):
        """Experiments (or genes) ranked by enrichment in ``target`` against ``contrast``.

        See :func:`agea_xr.analysis.gene_finder` for the keywords (``mapping``,
        ``hemisphere``, ``per_gene``, ``min_voxels``, ``sort_by``, ``top``).

        Parameters
        ----------
        target : str, int, list of them, or boolean volume
        contrast : same, optional
            Default: the rest of the brain.
        **kwargs
            Passed to :func:`agea_xr.analysis.gene_finder`.

        Returns
        -------
        pandas.DataFrame
        """
        from .analysis import gene_finder

        return gene_finder(self._obj, target, contrast, **kwargs)

    def voxel_matrix(self, mask=None, **kwargs) -> xr.DataArray:
        """The lazy (voxel, experiment) matrix of the brain's (or a mask's) voxels.

        See :func:`agea_xr.analysis.voxel_matrix`.

        Parameters
        ----------
        mask : str, int, list of them, or boolean volume, optional
        **kwargs
            ``mapping``, ``hemisphere``.

        Returns
        -------
        xarray.DataArray
            Dims ``(voxel, experiment)``; ``voxel`` stacks ``ml``, ``dv``, ``ap``.
        """
        from .analysis import voxel_matrix

        return voxel_matrix(self._obj, mask, **kwargs)

    # --- export (export.py) ---------------------------------------------------------
    def export(self, path, format: str | None = None, **kwargs):
        """Write to netCDF (``*.nc``) or Zarr (``*.zarr``), whole or a subset, safely.

        See :func:`agea_xr.export.export` for the keywords (``variant``, ``genes``,
        ``experiments``, ``regions``, ``crop``, ``overwrite``, ``progress``, ...).

        Parameters
        ----------
        path : str or os.PathLike
        format : {"netcdf", "zarr"}, optional
            Default: from the suffix of ``path``.
        **kwargs
            Passed to :func:`agea_xr.export.export`.

        Returns
        -------
        pathlib.Path
        """
        from .export import export

        return export(self._obj, path, format, **kwargs)


@xr.register_dataset_accessor("agea")
class AgeaDatasetAccessor(AgeaAccessor):
    """``ds.agea``: AGEA tools on a Dataset opened by :func:`agea_xr.open_dataset`."""


@xr.register_dataarray_accessor("agea")
class AgeaDataArrayAccessor(AgeaAccessor):
    """``da.agea``: AGEA tools on a DataArray (e.g. ``ds.expression``)."""
