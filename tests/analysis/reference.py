"""Plain-numpy and pandas references the analyses are checked against."""

from __future__ import annotations

import numpy as np
import pandas as pd
from dask.callbacks import Callback

import agea_xr
from agea_xr import layout

SEED_XYZ = (-1.5e-3, -2.0e-3, -1.5e-3)


def decoded(raw: np.ndarray) -> np.ndarray:
    """(experiment, voxel) float64 values, NaN where the file holds -1."""
    values = raw.astype(np.float64)
    values[raw == -1] = np.nan
    return values.reshape(raw.shape[0], -1)


def sample_values() -> np.ndarray:
    """The real sample's raw binary read with plain numpy, decoded."""
    raw = np.fromfile(
        agea_xr.sample_path() / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE
    ).reshape(2, *layout.GRID_SHAPE)
    return decoded(raw)


def region_reference(values, keys, stat):
    """Per experiment and key, a statistic of the measured voxels (pandas groupby)."""
    rows = {}
    for e, row in enumerate(values):
        frame = pd.DataFrame({"key": keys, "x": row})
        frame = frame[frame["key"] != 0]
        grouped = frame.groupby("key")["x"]
        if stat == "mean":
            rows[e] = grouped.mean()
        elif stat == "median":
            rows[e] = grouped.median()
        elif stat == "std":
            rows[e] = grouped.std(ddof=0)
        elif stat == "count":
            rows[e] = grouped.count()
    return pd.DataFrame(rows).T


def pearson_reference(values, y, min_experiments):
    ok = ~np.isnan(values) & ~np.isnan(y)[:, None]
    n = ok.sum(0)
    x = np.where(ok, values, 0.0)
    yy = np.where(ok, y[:, None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = x.sum(0) / n, yy.sum(0) / n
        dx, dy = np.where(ok, values - mx, 0), np.where(ok, y[:, None] - my, 0)
        r = (dx * dy).sum(0) / np.sqrt((dx * dx).sum(0) * (dy * dy).sum(0))
    r[n < min_experiments] = np.nan
    return r, n


def finder_reference(values, target, contrast):
    rows = []
    for row in values:
        t, c = row[target], row[contrast]
        t, c = t[~np.isnan(t)], c[~np.isnan(c)]
        pooled = np.sqrt(
            (((t - t.mean()) ** 2).sum() + ((c - c.mean()) ** 2).sum()) / (t.size + c.size - 2)
        )
        rows.append((t.mean(), c.mean(), t.mean() / c.mean(), (t.mean() - c.mean()) / pooled))
    return np.array(rows)


class NoExpressionReads(Callback):
    """Fails if a dask computation reads the expression (small volumes may compute)."""

    def _start(self, dsk):
        read = [k for k in dsk if "expression" in str(k) or "agea-bits" in str(k)]
        if read:
            raise AssertionError(f"the expression was read while it should stay lazy: {read[:3]}")
