"""agea-xr: the Allen Gene Expression Atlas (IBL release) as a lazy, labelled xarray Dataset.

The public names are loaded on first use (PEP 562), so that importing the
package, or the ``agea`` engine when xarray lists its engines, stays cheap.
The ``.agea`` accessor is registered as soon as any public name is used, or
when :mod:`agea_xr.accessor` is imported.

Examples
--------
>>> import agea_xr
>>> ds = agea_xr.open_sample()
>>> ds.expression.dims
('experiment', 'ml', 'dv', 'ap')
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that owns it.
_PUBLIC = {
    "open_dataset": "api",
    "open_sample": "api",
    "open_export": "api",
    "open_cell_types": "volumes",
    "open_lipids": "volumes",
    "open_atlas": "volumes",
    "similar": "analysis.items",
    "sample_path": "sample",
    "download": "fetch",
    "export": "export",
    "ingest": "ingest",
    "references": "references",
    "read_map": "maps",
    "points_to_map": "maps",
    "region_table": "regions",
    "from_brain_atlas": "bridge",
    "wrap_volume": "bridge",
    "region_expression": "analysis",
    "seed_correlation": "analysis",
    "gene_finder": "analysis",
    "voxel_matrix": "analysis",
    "similar_genes": "analysis",
    "clusters": "analysis",
    "agreement": "analysis",
    "region_map": "analysis",
    "compare_maps": "analysis",
    "null_maps": "analysis",
}

__all__ = [
    "__version__",
    "agreement",
    "clusters",
    "compare_maps",
    "download",
    "export",
    "from_brain_atlas",
    "gene_finder",
    "ingest",
    "null_maps",
    "open_atlas",
    "open_cell_types",
    "open_dataset",
    "open_export",
    "open_lipids",
    "open_sample",
    "points_to_map",
    "read_map",
    "references",
    "region_expression",
    "region_map",
    "region_table",
    "sample_path",
    "seed_correlation",
    "similar",
    "similar_genes",
    "voxel_matrix",
    "wrap_volume",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .analysis import (
        agreement,
        clusters,
        compare_maps,
        gene_finder,
        null_maps,
        region_expression,
        region_map,
        seed_correlation,
        similar_genes,
        voxel_matrix,
    )
    from .analysis.items import similar
    from .api import open_dataset, open_export, open_sample
    from .bridge import from_brain_atlas, wrap_volume
    from .export import export
    from .fetch import download
    from .ingest import ingest
    from .maps import points_to_map, read_map
    from .references import references
    from .regions import region_table
    from .sample import sample_path
    from .volumes import open_atlas, open_cell_types, open_lipids


def __getattr__(name: str) -> Any:
    owner = _PUBLIC.get(name)
    if owner is None:
        raise AttributeError(f"module 'agea_xr' has no attribute {name!r}")
    importlib.import_module(".accessor", __name__)  # registers .agea with the first use
    value = getattr(importlib.import_module(f".{owner}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package, whose public functions are not shadowed by their modules.

    Importing a submodule sets it as an attribute of the package: importing
    ``agea_xr.export`` or ``agea_xr.ingest`` (e.g. ``from agea_xr.export import
    subset``) would replace the functions ``agea_xr.export``/``agea_xr.ingest``
    by their modules.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _PUBLIC.get(name) == name:
            return  # the module stays in sys.modules; the name keeps the function
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
