"""The demo job: which brain regions express a gene most (bundled sample, offline)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .regions import brain_regions, region_ids

__all__ = ["top_regions"]


def top_regions(
    ds: xr.Dataset, gene: str, mapping: str = "Beryl", n: int = 10, min_voxels: int = 3
) -> pd.DataFrame:
    """The regions with the highest mean expression of one gene.

    The mean runs over the *measured* voxels of each region (NaN voxels are not
    zeros) and over all experiments of the gene. ``void`` and ``root`` (voxels
    the mapping assigns to no region) are left out.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset with a ``label`` volume.
    gene : str
        Gene symbol.
    mapping : str, default "Beryl"
        iblatlas mapping.
    n : int, default 10
        Number of regions.
    min_voxels : int, default 3
        Regions with fewer measured voxels are left out (too noisy to rank).

    Returns
    -------
    pandas.DataFrame
        Columns ``acronym``, ``name``, ``id``, ``mean``, ``voxels`` (measured voxels,
        summed over the gene's experiments), highest mean first.

    Raises
    ------
    ValueError
        If the dataset has no ``label`` volume.
    KeyError
        If the gene is unknown (with close matches).

    Examples
    --------
    >>> import agea_xr
    >>> top_regions(agea_xr.open_sample(), "Pdyn", n=3).shape
    (3, 5)
    """
    if "label" not in ds:
        raise ValueError(
            "This dataset has no 'label' volume (label.npy), so it has no regions: open a "
            "release folder that holds label.npy."
        )
    values = np.asarray(ds["expression"].sel(gene=gene).values, dtype=np.float32)
    ids = region_ids(np.asarray(ds["label"].values), mapping)
    flat_ids = np.broadcast_to(ids, values.shape).reshape(-1)
    flat = values.reshape(-1)
    measured = np.isfinite(flat)
    unique, inverse = np.unique(flat_ids[measured], return_inverse=True)
    sums = np.bincount(inverse, weights=flat[measured].astype(np.float64))
    counts = np.bincount(inverse)
    br = brain_regions()
    index = {rid: i for i, rid in enumerate(br.id)}
    rows = [
        {
            "acronym": br.acronym[index[rid]],
            "name": br.name[index[rid]],
            "id": int(rid),
            "mean": s / c,
            "voxels": int(c),
        }
        for rid, s, c in zip(unique, sums, counts, strict=True)
        if rid not in (0, 997) and c >= min_voxels
    ]
    table = pd.DataFrame(rows, columns=["acronym", "name", "id", "mean", "voxels"])
    return table.sort_values("mean", ascending=False, kind="stable").head(n).reset_index(drop=True)
