"""Build the AGEA Dataset: coordinates, decoding, attributes and encodings.

:func:`build_dataset` builds the lazily indexed Dataset that the xarray backend
engine ``agea`` returns (the public front door is :func:`agea_xr.open_dataset`).
Building reads the parquet table, the small label and image volumes and the
binary's size (through :mod:`agea_xr.release`), never the binary itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from . import layout
from .conventions import attributes, expression_attributes, global_attributes
from .encoding import attach_default_encoding
from .formats import FORMATS
from .gene_index import set_gene_index
from .grid_index import set_grid_indexes
from .reader import ExperimentFile, ExpressionArray
from .release import check_binary, read_label, read_table, read_version, read_volume
from .remote import is_url

__all__ = ["CHUNK_EXPERIMENTS", "EXPERIMENT_CHUNKS", "build_dataset"]

#: Experiments per dask chunk (10 MB of float16, 20 MB of float32).
CHUNK_EXPERIMENTS = 32
#: The default of ``chunks``: xarray's ``{}``, i.e. the backend's preferred,
#: experiment-aligned chunks (an immutable spelling of an empty mapping).
EXPERIMENT_CHUNKS: Mapping[str, int] = MappingProxyType({})


# --- the Dataset ------------------------------------------------------------------
def _exported_format(path: str) -> str | None:
    """ "netCDF" or "Zarr" when ``path`` is a file or store this package exports, else None."""
    name = path.rstrip("/").lower()
    if os.path.isfile(path) and name.endswith(FORMATS["netcdf"]):
        return "netCDF"
    if os.path.isdir(path) and (
        name.endswith(FORMATS["zarr"])
        or any(os.path.isfile(os.path.join(path, m)) for m in ("zarr.json", ".zgroup"))
    ):
        return "Zarr"
    return None


def build_dataset(
    source: str | os.PathLike,
    *,
    variant: str = "raw",
    mask_and_scale: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build the lazily indexed AGEA Dataset of a release folder.

    This is what the ``agea`` xarray engine returns; most users want
    :func:`open_dataset`, which adds dask chunks and finds the local cache.

    Parameters
    ----------
    source : str or os.PathLike
        Release folder: local path or fsspec URL.
    variant : {"raw", "processed"}, default "raw"
        Which binary to open.
    mask_and_scale : bool, default True
        Decode to float32, with NaN for ``-1`` in the raw variant (xarray's name for
        this switch). False gives the stored float16 values untouched.
    storage_options : mapping, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.Dataset
        See :func:`agea_xr.open_dataset`.
    """
    folder = str(source)
    if is_url(folder):
        from .remote import storage_options_for

        # anonymous for the IBL bucket and short timeouts, also through xr.open_dataset
        storage_options = storage_options_for(folder, storage_options)
    else:
        folder = os.fspath(Path(folder).expanduser())
        exported = _exported_format(folder)
        if exported is not None:
            raise ValueError(
                f"{folder!r} is an agea-xr export ({exported}), not a release folder: open it "
                "with agea_xr.open_export(path) (or xr.open_dataset / xr.open_zarr)."
            )
        if os.path.isfile(folder):
            holder = os.path.dirname(os.path.abspath(folder))
            raise NotADirectoryError(
                f"{folder!r} is a file; pass the folder that holds it "
                f"({holder!r}): an AGEA release is a folder of "
                f"{', '.join(layout.FILES[:3])} and the binaries."
            )
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                f"AGEA folder {folder!r} does not exist. Pass the folder holding "
                f"{layout.TABLE_FILE} and {layout.VARIANTS['raw']}, call agea_xr.download() "
                "to fetch the release, or agea_xr.open_sample() for the bundled sample."
            )
    binary_name = layout.binary_file(variant)  # validates variant first
    if not isinstance(mask_and_scale, (bool, np.bool_)):
        raise TypeError(
            f"mask_and_scale must be True or False, not {mask_and_scale!r}: True decodes to "
            "float32 with NaN for missing values, False returns the stored float16 values."
        )
    table = read_table(folder, storage_options)
    binary = check_binary(folder, variant, len(table), storage_options)
    label = read_label(folder, storage_options)
    image = read_volume(folder, layout.IMAGE_FILE, storage_options, kind="f")

    decode = bool(mask_and_scale)
    masked = decode and variant == "raw"
    array = ExpressionArray(
        ExperimentFile(binary, len(table), storage_options), decode=decode, mask=masked
    )
    attrs = expression_attributes(variant=variant, masked=masked)
    expression = xr.Variable(layout.DIMS, indexing.LazilyIndexedArray(array), attrs)
    expression.encoding = {
        "preferred_chunks": {
            layout.EXPERIMENT: CHUNK_EXPERIMENTS,
            **dict(zip(layout.GRID_DIMS, layout.GRID_SHAPE, strict=True)),
        },
        "source": binary,
    }

    coords: dict[str, Any] = {
        layout.EXPERIMENT: (
            layout.EXPERIMENT,
            table["experiment"].to_numpy(),
            attributes(layout.EXPERIMENT),
        ),
        "gene": (
            layout.EXPERIMENT,
            table["gene"].to_numpy(dtype=object),
            attributes("gene"),
        ),
    }
    for dim, values in layout.coords().items():
        coords[dim] = (dim, values, attributes(dim))

    data_vars: dict[str, Any] = {"expression": expression}
    if label is not None:
        data_vars["label"] = (
            layout.GRID_DIMS,
            label,
            attributes("label"),
        )
    if image is not None:
        data_vars["image"] = (
            layout.GRID_DIMS,
            image,
            attributes("image"),
        )
    ds = xr.Dataset(data_vars, coords=coords)
    # one index over experiment and gene, so gene labels follow their data through
    # xarray's alignment; grid indexes that forgive 1e-18 m in exact selection
    ds = set_grid_indexes(set_gene_index(ds))
    ds.attrs = global_attributes(
        source=folder,
        variant=variant,
        binary=binary_name,
        data_version=read_version(folder, storage_options),
        voxel_size_um=layout.RESOLUTION_UM,
        coordinate_convention=(
            "metres from bregma, IBL convention: ml right positive, ap anterior positive, "
            "dv dorsal positive"
        ),
    )
    return attach_default_encoding(ds)
