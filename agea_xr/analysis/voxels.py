"""The (voxel, experiment) matrix of the brain's voxels, for scikit-learn work."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr
from xarray.core.indexes import PandasMultiIndex

from ..layout import EXPERIMENT, GRID_DIMS
from ._chunks import check_dataset, chunked, experiment_pass, expression_matrix
from ._masks import describe, selection_mask
from .items import on_items

__all__ = ["WholeGrid", "voxel_matrix"]


class WholeGrid(pd.MultiIndex):
    """The ``voxel`` MultiIndex of :func:`voxel_matrix`: unstacking gives the whole grid.

    Its levels are the dataset's ``ml``, ``dv``, ``ap`` coordinates, all of them,
    in the dataset's order (``dv`` and ``ap`` decreasing). xarray's unstack first
    drops the level values no selected voxel uses (``remove_unused_levels``) and
    keeps the others in the order they first appear, which gave cropped, unsorted
    axes; this index keeps every level, so ``.unstack("voxel")`` gives back the
    dataset's grid, NaN outside the selected voxels. It stays the index of the
    result through xarray's ``PandasMultiIndex`` (alignment and dask unstacking
    work as usual); a later selection of voxels (``isel``) gives a plain
    ``pandas.MultiIndex`` back.
    """

    def remove_unused_levels(self) -> WholeGrid:
        """Keep every level value (the whole grid): returns the index itself."""
        return self


def _picked(block, table, voxels, *, stored, out=None):
    """The selected voxels of a chunk, as the dataset gives them (a pass kernel).

    Written into ``out`` (the task's rows of this chunk) when given: no new array
    but the small pick.
    """
    picked = block[:, voxels]
    if stored:
        picked = picked.view(np.float16)
    elif table is not None:
        # the bits index the 65,536-value table: "wrap" never wraps, and skips a buffer
        return np.take(table, picked, out=out, mode="wrap")
    if out is None:
        return picked
    out[...] = picked
    return out


@on_items("rows")
def voxel_matrix(
    ds: xr.Dataset,
    mask: str | int | Iterable[str | int] | xr.DataArray | np.ndarray | None = None,
    *,
    mapping: str = "Allen",
    hemisphere: str | None = None,
    variable: str | None = None,
) -> xr.DataArray:
    """The (voxel, experiment) matrix of the brain's voxels, lazily, for scikit-learn work.

    Parameters
    ----------
    ds : xarray.Dataset
        An AGEA dataset, or a cell-type or lipid dataset
        (:func:`agea_xr.open_cell_types`, :func:`agea_xr.open_lipids`): its items
        are then the columns.
    mask : str, int, list of them, or boolean volume, optional
        Which voxels: region acronyms or ids (descendants included), or a boolean
        ``(ml, dv, ap)`` volume. Default: every labelled (non-void) voxel.
    mapping : str, default "Allen"
        Mapping used to find regions' voxels.
    hemisphere : {None, "left", "right"}, default None
        Keep one hemisphere.
    variable : str, optional
        Analyse another ``(item, ml, dv, ap)`` variable than ``expression``: the
        ``density`` of :func:`agea_xr.open_cell_types`, the ``intensity`` of
        :func:`agea_xr.open_lipids` (the default for a dataset without
        ``expression``: its one such variable).

    Returns
    -------
    xarray.DataArray
        Lazy (dask), dims ``(voxel, experiment)``, chunked by experiments as the
        data, or by a few of its chunks (a file opened by ``open_dataset``: each
        task reads its experiments and keeps the selected voxels; in-memory or
        memmapped data is chunked without being copied).
        ``voxel`` is a stacked index of ``ml``, ``dv``, ``ap`` (metres), in the
        dataset's voxel order: ``.unstack("voxel")`` gives back volumes on the
        dataset's whole grid, every coordinate in the dataset's order, NaN outside
        the selected voxels. Missing values stay NaN: drop or impute them before
        PCA or clustering (e.g. ``.fillna(...)``, or keep voxels measured
        everywhere with ``.dropna("voxel")``). With no experiment selected the
        matrix has 0 columns. On items: dims ``(voxel, cell_type)`` (or
        ``lipid``), named after the variable, with the items' coordinates.

    Raises
    ------
    ValueError
        If the mask selects no voxel or has the wrong shape, or there is no
        ``label`` for the default mask.

    Examples
    --------
    >>> import agea_xr
    >>> ds = agea_xr.open_sample()
    >>> m = voxel_matrix(ds, "CA1")
    >>> m.dims, m.sizes["experiment"]
    (('voxel', 'experiment'), 2)
    >>> sorted(m.indexes["voxel"].names)
    ['ap', 'dv', 'ml']
    >>> back = m.unstack("voxel")
    >>> bool((back.ap == ds.ap).all()), back.sizes == ds.expression.sizes
    (True, True)
    """
    expr = check_dataset(ds)
    selected = selection_mask(ds, mask, mapping, hemisphere, "voxel")
    if not selected.any():
        raise ValueError(
            f"The mask {describe(mask) if mask is not None else 'brain'} selects no voxel "
            f"(hemisphere={hemisphere!r}): choose other regions."
        )
    expr = chunked(expr)
    flat = np.flatnonzero(selected.reshape(-1))
    n_experiments = expr.sizes[EXPERIMENT]
    matrix = expression_matrix(ds)
    if matrix.source is not None and n_experiments:
        # read and pick the voxels inside each task: one task per few chunks
        stored = expr.dtype == np.float16
        data = experiment_pass(
            matrix,
            _picked,
            (flat.size,),
            flat,
            dtype=expr.dtype,
            experiments_last=True,
            stored=stored,
        )
    else:
        data = expr.data.reshape(n_experiments, selected.size)[:, flat].T
    codes = np.unravel_index(flat, selected.shape)
    levels = [pd.Index(np.asarray(ds[d].values)) for d in GRID_DIMS]
    index = PandasMultiIndex(WholeGrid(levels=levels, codes=codes, names=list(GRID_DIMS)), "voxel")
    along = expr.drop_vars([c for c in expr.coords if set(expr[c].dims) != {EXPERIMENT}])
    out = xr.DataArray(
        data,
        dims=("voxel", EXPERIMENT),
        coords=xr.Coordinates.from_xindex(index),
        name=expr.name,
        attrs=dict(expr.attrs),
    )
    return out.assign_coords(along.coords)
