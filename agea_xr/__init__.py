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
from .dataset import open_dataset
from .sample import open_sample, sample_path

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "open_dataset",
    "open_sample",
    "sample_path",
]
