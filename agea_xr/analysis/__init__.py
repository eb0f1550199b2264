"""Analyses at atlas scale: region x gene matrices, seed correlation maps, gene finder.

Every analysis is one pass over the expression data, chunk by chunk along
experiments (32 whole volumes per dask chunk by default): a compiled kernel
(:mod:`agea_xr.kernels`) reduces each chunk to a few numbers per region or per
voxel, and dask combines them. The binary is never materialised whole, and the
same graph runs on dask's threaded scheduler (the default) or, unchanged, on a
``dask.distributed`` cluster: create a ``Client`` first and dask uses it.

Missing values (``-1`` in the raw files, NaN once decoded) are never counted
as zeros: every mean, count and correlation uses measured voxels only.

On a dataset as :func:`agea_xr.open_dataset` returns it (untouched expression,
default chunks), the kernels read the stored float16 bits directly
(:func:`agea_xr.reader.raw_bits`) and decode them through a lookup table on
the fly, which halves the time of a pass; after any change to ``expression``
(selection, arithmetic, rechunking) they work on the decoded float values,
with the same results. Numpy or memmapped data (``wrap_volume``) is chunked
without being copied whole.

Region-based results are lazy (dask-backed) DataArrays: call ``.compute()``
(or ``.values``) to run the pass. :func:`gene_finder` returns a table, so it
computes at once.

One module per analysis family: :mod:`~agea_xr.analysis.regions`
(:func:`region_expression`), :mod:`~agea_xr.analysis.seed`
(:func:`seed_correlation`), :mod:`~agea_xr.analysis.finder`
(:func:`gene_finder`), :mod:`~agea_xr.analysis.voxels` (:func:`voxel_matrix`),
:mod:`~agea_xr.analysis.similar` (:func:`similar_genes`),
:mod:`~agea_xr.analysis.clusters` (:func:`clusters`, :func:`agreement`),
:mod:`~agea_xr.analysis.region_map` (:func:`region_map`),
:mod:`~agea_xr.analysis.nulls` (:func:`null_maps`, spatial surrogates),
:mod:`~agea_xr.analysis.stats` (:func:`compare_maps`, spatial p and q),
:mod:`~agea_xr.analysis.items` (:func:`agea_xr.similar`).

The same analyses run on the MERFISH cell types and the lipids
(:func:`agea_xr.open_cell_types`, :func:`agea_xr.open_lipids`) or any
``(item, ml, dv, ap)`` variable: :func:`region_expression`,
:func:`seed_correlation`, :func:`gene_finder`, :func:`voxel_matrix` and
:func:`clusters` take such a Dataset (``variable=`` picks one variable) and
name their results by its items; :func:`similar_genes` and
:func:`~agea_xr.analysis.decode.decode` are gene-specific and refuse it, naming
what to use. :mod:`~agea_xr.analysis.items` owns how.
New analyses build on :func:`agea_xr.analysis._chunks.experiment_pass`, which
runs a per-chunk kernel over all experiments and keeps or adds its results.
"""

from __future__ import annotations

from .clusters import CLUSTER_METHODS, agreement, clusters
from .finder import EFFECT_COLUMNS, gene_finder
from .nulls import null_maps
from .region_map import region_map
from .regions import STATS, region_expression
from .seed import seed_correlation
from .similar import SIMILARITY_METHODS, similar_genes
from .stats import compare_maps
from .voxels import voxel_matrix

__all__ = [
    "CLUSTER_METHODS",
    "EFFECT_COLUMNS",
    "SIMILARITY_METHODS",
    "STATS",
    "agreement",
    "clusters",
    "compare_maps",
    "gene_finder",
    "null_maps",
    "region_expression",
    "region_map",
    "seed_correlation",
    "similar_genes",
    "voxel_matrix",
]
