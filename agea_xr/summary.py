"""A plain-text summary of an opened AGEA Dataset (``agea-xr info``)."""

from __future__ import annotations

import os

import xarray as xr

from . import layout
from .remote import is_url

__all__ = ["file_sizes", "summarize"]


def file_sizes(ds: xr.Dataset) -> dict[str, int]:
    """Sizes in bytes of the release files present beside the dataset's source.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset opened by :func:`agea_xr.open_dataset`.

    Returns
    -------
    dict of str to int
        File name -> size, for the files of the release that exist (empty for an
        unknown or remote source).
    """
    source = ds.attrs.get("source", "")
    if not source or is_url(source) or not os.path.isdir(source):
        return {}
    out = {}
    for name in layout.FILES:
        path = os.path.join(source, name)
        if os.path.isfile(path):
            out[name] = os.path.getsize(path)
    return out


def _range_mm(ds: xr.Dataset, dim: str) -> str:
    values = ds[dim].values * 1e3
    return f"{values[0]:+.3f} .. {values[-1]:+.3f} mm ({values.size} voxels)"


def summarize(ds: xr.Dataset) -> str:
    """Describe the dataset in a few lines: size, genes, grid, variant, files, version.

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset opened by :func:`agea_xr.open_dataset`.

    Returns
    -------
    str

    Examples
    --------
    >>> import agea_xr
    >>> print(summarize(agea_xr.open_sample()).splitlines()[1])
    experiments: 2   genes: 2
    """
    genes = ds["gene"].to_index() if "gene" in ds.coords else None
    lines = [
        f"AGEA dataset: {ds.attrs.get('source', '?')}",
        f"experiments: {ds.sizes.get(layout.EXPERIMENT, 0):,}   "
        f"genes: {genes.nunique() if genes is not None else '?':,}",
        "dims: " + ", ".join(f"{d}={n}" for d, n in ds["expression"].sizes.items()),
        f"ml: {_range_mm(ds, layout.ML)} (right positive)",
        f"ap: {_range_mm(ds, layout.AP)} (anterior positive)",
        f"dv: {_range_mm(ds, layout.DV)} (dorsal positive)",
        f"variant: {ds.attrs.get('variant', '?')}   dtype: {ds['expression'].dtype}   "
        f"data version: {ds.attrs.get('data_version', 'unknown')}",
        "variables: " + ", ".join(ds.data_vars),
    ]
    sizes = file_sizes(ds)
    if sizes:
        lines.append("files: " + ", ".join(f"{name} ({size:,} B)" for name, size in sizes.items()))
    return "\n".join(lines)
