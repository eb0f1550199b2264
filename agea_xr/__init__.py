"""agea-xr: the Allen Gene Expression Atlas (IBL release) as a lazy, labelled xarray Dataset.

Examples
--------
>>> import agea_xr
>>> ds = agea_xr.open_sample()
>>> ds.expression.dims
('experiment', 'ml', 'dv', 'ap')
"""

from __future__ import annotations

from . import accessor as _accessor  # noqa: F401  (registers .agea)
from .analysis import gene_finder, region_expression, seed_correlation, voxel_matrix
from .cache import download
from .dataset import open_dataset
from .export import export, open_export
from .ingest import ingest
from .points import from_brain_atlas, wrap_volume
from .regions import region_table
from .sample import open_sample, sample_path

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "download",
    "export",
    "from_brain_atlas",
    "gene_finder",
    "ingest",
    "open_dataset",
    "open_export",
    "open_sample",
    "region_expression",
    "region_table",
    "sample_path",
    "seed_correlation",
    "voxel_matrix",
    "wrap_volume",
]
