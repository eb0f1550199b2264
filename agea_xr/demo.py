"""The demo job: which brain regions express a gene most (bundled sample, offline)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["top_regions"]


def top_regions(
    ds: xr.Dataset, gene: str, mapping: str = "Beryl", n: int = 10, min_voxels: int = 3
) -> pd.DataFrame:
    """The regions with the highest mean expression of one gene.

    The mean runs over the *measured* voxels of each region (NaN voxels are not
    zeros) and over all experiments of the gene. ``void`` and ``root`` (voxels
    the mapping assigns to no region, ``-997`` on the left under ``-lr``
    mappings) are left out.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset with a ``label`` volume.
    gene : str
        Gene symbol.
    mapping : str, default "Beryl"
        iblatlas mapping.
    n : int, default 10
        Number of regions (a count: 0 or more).
    min_voxels : int, default 3
        Regions with fewer measured voxels are left out (too noisy to rank); a
        count, 0 or more.

    Returns
    -------
    pandas.DataFrame
        Columns ``acronym``, ``name``, ``id``, ``mean``, ``voxels`` (measured voxels,
        summed over the gene's experiments), highest mean first.

    Raises
    ------
    ValueError
        If the dataset has no ``label`` volume, or ``n`` or ``min_voxels`` is
        negative or fractional.
    KeyError
        If the gene is unknown (with close matches).

    Examples
    --------
    >>> import agea_xr
    >>> top_regions(agea_xr.open_sample(), "Pdyn", n=3).shape
    (3, 5)
    >>> top_regions(agea_xr.open_sample(), "Pdyn", n=-1)
    Traceback (most recent call last):
    ...
    ValueError: n must be at least 0, got -1.
    """
    from ._choices import check_count
    from .analysis import region_expression

    n = check_count(n, "n")
    min_voxels = check_count(min_voxels, "min_voxels")
    if "label" not in ds:
        raise ValueError(
            "This dataset has no 'label' volume (label.npy), so it has no regions: open a "
            "release folder that holds label.npy."
        )
    stats = region_expression(
        ds.sel(gene=[gene]), mapping, ["mean", "count"], combine_genes=True
    ).compute()
    table = pd.DataFrame(
        {
            "acronym": stats["acronym"].values.astype(str),
            "name": stats["name"].values.astype(str),
            "id": stats["region"].values.astype(np.int64),
            "mean": stats["mean"].values[0],
            "voxels": stats["count"].values[0].astype(np.int64),
        }
    )
    keep = ~table["id"].isin([0, 997, -997]) & (table["voxels"] >= min_voxels)
    table = table[keep]
    return table.sort_values("mean", ascending=False, kind="stable").head(n).reset_index(drop=True)
