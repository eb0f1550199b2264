"""Region maps: per-region values painted onto the voxels of their regions (AGEA's region view).

The inverse of :func:`agea_xr.region_expression`: a value per region (a row of
a region x experiment matrix, a score per acronym from a paper, a cluster's
agreement) becomes an ``(ml, dv, ap)`` volume that draws, exports and
correlates like any map. Each voxel gets the value of the region the mapping
assigns it to, NaN where no value was given (void, or a region without a value).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..conventions import attributes
from ..layout import GRID_DIMS
from ..regions import (
    brain_regions,
    check_mapping,
    index_of_ids,
    is_left,
    label_of,
    region_indices,
    region_table,
)

__all__ = ["region_map"]

#: Hemisphere attributes of region results that keep the hemispheres apart.
_LATERAL_ATTRS = ("left", "right", "split")


def _as_region_array(values: Any, mapping: str, name: str) -> xr.DataArray:
    """``values`` as a DataArray along ``region`` (Allen ids), its other dims kept."""
    if isinstance(values, xr.DataArray):
        if "region" not in values.dims:
            raise ValueError(
                f"{name} has no 'region' dimension (dims {tuple(values.dims)}): give a "
                "region_expression result (e.g. m.sel(gene='Pdyn')) or a pandas Series "
                "indexed by acronym or Allen id."
            )
        return values
    if not isinstance(values, pd.Series):
        raise TypeError(
            f"region_map paints a DataArray with a 'region' dimension or a pandas Series "
            f"indexed by acronym or Allen id, got {type(values).__name__}."
        )
    index = values.index
    if index.dtype.kind in "iuf":
        ids = index.to_numpy()
    else:
        if mapping.endswith("-lr"):
            raise ValueError(
                f"Acronyms name both hemispheres, but {mapping!r} keeps them apart: index "
                "the Series by Allen id (negative: left hemisphere), or use "
                f"mapping={mapping[:-3]!r}."
            )
        table = region_table(mapping)
        by_acronym = dict(zip(table["acronym"], table["id"], strict=True))
        unknown = [a for a in index if a not in by_acronym]
        if unknown:
            import difflib

            close = difflib.get_close_matches(str(unknown[0]), list(by_acronym), n=3)
            hint = f" Closest: {', '.join(close)}." if close else ""
            raise ValueError(
                f"{len(unknown)} acronym(s) are not regions of the {mapping!r} mapping, e.g. "
                f"{unknown[:5]}.{hint} List them with agea_xr.region_table({mapping!r}), or "
                "pass the mapping the values belong to."
            )
        ids = np.array([by_acronym[a] for a in index], dtype=np.int64)
    return xr.DataArray(
        values.to_numpy(), dims=("region",), coords={"region": ids}, name=values.name
    )


def _check_ids(ids: np.ndarray, mapping: str) -> None:
    """Refuse duplicated ids and ids that are not regions of ``mapping``."""
    index_of_ids(ids)  # unknown ids and fractional values: a clear error
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"Region ids appear more than once: {uniq[counts > 1][:5].tolist()}; give one "
            "value per region (select or reduce the duplicates first)."
        )
    level = np.abs(region_table(mapping)["id"].to_numpy())
    outside = np.unique(ids[~np.isin(np.abs(ids), level)])
    if outside.size:
        br = brain_regions()
        names = br.acronym[index_of_ids(outside[:5])].tolist()
        raise ValueError(
            f"{outside.size} region(s) are not regions of the {mapping!r} mapping, e.g. "
            f"{names} (ids {outside[:5].tolist()}): pass the mapping the values were computed "
            "with (mapping='Allen' holds every structure)."
        )


def _paint(block: np.ndarray, codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Values along the last axis taken at each voxel's region position (grid-shaped)."""
    return np.take(block, codes, axis=-1).reshape(*block.shape[:-1], *shape)


def region_map(
    obj: xr.Dataset | xr.DataArray,
    values: xr.DataArray | pd.Series,
    mapping: str | None = None,
) -> xr.DataArray:
    """Paint per-region values onto the ``(ml, dv, ap)`` grid: every voxel gets its region's value.

    The inverse of :func:`agea_xr.region_expression` (which it round-trips: the
    region means of the painted volume are the values, for every region with
    voxels). Voxels are assigned to regions exactly as ``region_expression``
    assigns them: by iblatlas' mapping of the label volume, and, when the
    values tell hemispheres apart, by position (left is x < 0), left copies with
    negative ids.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        Gives the grid and the region label: an AGEA dataset, or a DataArray
        with a ``label`` coordinate.
    values : xarray.DataArray or pandas.Series
        A DataArray with a ``region`` dimension of Allen ids (negative: left
        hemisphere), e.g. a :func:`~agea_xr.region_expression` result or a row
        of it; other dims (``experiment``, ``gene``, ...) are kept. Or a Series
        indexed by Allen id or by acronym (acronyms paint both hemispheres).
    mapping : str, optional
        The iblatlas mapping the regions belong to (see
        :data:`agea_xr.regions.MAPPINGS`). Default: the ``mapping`` attribute of a
        ``region_expression`` result, else ``"Beryl"``. Regions stay apart by
        hemisphere under a ``-lr`` mapping, when any id is negative, or when the
        values' ``hemisphere`` attribute is ``left``/``right``/``split``;
        otherwise a region's value paints both hemispheres.

    Returns
    -------
    xarray.DataArray
        float64 (integers and booleans are converted so that NaN can mark no
        value), dims ``(*other dims of values, ml, dv, ap)``; NaN outside the
        brain and in regions without a value. Lazy (dask) when ``values`` is.
        Coordinates: the grid, ``label`` (so that :func:`agea_xr.plot.plot_slice`
        draws region boundaries), and those of ``values`` along its other dims.
        Attributes: those of ``values`` (``long_name``, ``units`` ...), the
        ``comment`` of :data:`agea_xr.conventions.ATTRIBUTES` ``["region_map"]``
        and ``mapping``.

    Raises
    ------
    ValueError
        For a dataset without label, values without a ``region`` dimension,
        unknown acronyms (with the closest), ids unknown to iblatlas or that are
        not regions of the mapping, duplicated ids, acronyms under a ``-lr``
        mapping, an unknown mapping, a mapping that contradicts the values'
        own ``mapping`` attribute, or values that are not numbers.
    TypeError
        For values that are neither a DataArray nor a Series.

    Examples
    --------
    >>> import agea_xr
    >>> import pandas as pd
    >>> ds = agea_xr.open_sample()
    >>> m = agea_xr.region_expression(ds, "Cosmos").sel(gene="Pdyn").compute()
    >>> v = region_map(ds, m)
    >>> v.dims
    ('experiment', 'ml', 'dv', 'ap')
    >>> v = region_map(ds, pd.Series({"CNU": 2.0, "CB": -1.0}), mapping="Cosmos")
    >>> v.agea.at([[0.0, -6.5e-3, -2.5e-3], [2.5e-3, 0.5e-3, -3.5e-3]]).values.tolist()
    [-1.0, 2.0]
    """
    own = values.attrs.get("mapping") if isinstance(values, xr.DataArray) else None
    if mapping is None:
        mapping = own or "Beryl"
    mapping = check_mapping(mapping)
    if own is not None and check_mapping(own) != mapping:
        raise ValueError(
            f"These values were computed under the {own!r} mapping, not {mapping!r}: drop "
            f"mapping= (or pass mapping={own!r})."
        )
    label = label_of(obj).transpose(*GRID_DIMS)
    da = _as_region_array(values, mapping, "values")
    if da.dtype.kind not in "biufc":
        raise ValueError(
            f"region_map paints numbers; the values are {da.dtype} (e.g. "
            f"{da.values.reshape(-1)[:1].tolist()}): pass numbers per region, e.g. "
            "pd.to_numeric(series)."
        )
    ids = np.asarray(da["region"].values)
    _check_ids(ids, mapping)
    ids = ids.astype(np.int64)
    lateral = (
        mapping.endswith("-lr")
        or bool((ids < 0).any())
        or da.attrs.get("hemisphere") in _LATERAL_ATTRS
    )

    label_values = np.asarray(label.values)
    voxel_ids = brain_regions().id[region_indices(label_values, mapping)].astype(np.int64)
    if lateral:
        voxel_ids = np.where(is_left(label), -np.abs(voxel_ids), np.abs(voxel_ids))
    order = np.argsort(ids, kind="stable")
    pos = np.clip(np.searchsorted(ids[order], voxel_ids), 0, max(ids.size - 1, 0))
    found = voxel_ids != 0
    found &= ids[order][pos] == voxel_ids if ids.size else False
    codes = np.where(found, order[pos] if ids.size else 0, ids.size)  # ids.size: a NaN row

    along = [name for name, c in da.coords.items() if "region" in c.dims]
    data = da.drop_vars(along)
    if data.dtype.kind not in "fc":
        data = data.astype(np.float64)
    data = data.pad(region=(0, 1), constant_values=np.nan)
    shape = codes.shape
    painted = xr.apply_ufunc(
        _paint,
        data.chunk({"region": -1}) if data.chunks is not None else data,
        kwargs={"codes": codes.reshape(-1), "shape": shape},
        input_core_dims=[["region"]],
        output_core_dims=[list(GRID_DIMS)],
        dask="parallelized",
        output_dtypes=[data.dtype],
        dask_gufunc_kwargs={"output_sizes": dict(zip(GRID_DIMS, shape, strict=True))},
    )
    others = [d for d in painted.dims if d not in GRID_DIMS]
    painted = painted.transpose(*others, *GRID_DIMS)
    painted = painted.assign_coords(
        {d: label[d] for d in GRID_DIMS} | {"label": (GRID_DIMS, label_values, dict(label.attrs))}
    )
    attrs = attributes("region_map")
    attrs.update({k: v for k, v in da.attrs.items() if k != "comment"})
    attrs["mapping"] = mapping
    attrs.setdefault("hemisphere", "split" if lateral else "both")
    painted.attrs = attrs
    painted.name = da.name
    return painted
