"""The index of the grid coordinates ``ml``, ``dv``, ``ap``: exact selection that forgives 1 nm.

Voxel centres are computed with iblatlas' arithmetic (``i * dx + x0``), so
``ds.ap.values`` equals ``BrainAtlas.bc.yscale`` bit for bit, but a decimal a
person types (``0.0054``, ``-2.0e-3``) can differ from them by 1e-18 m, and
plain pandas exact matching then fails. :class:`GridIndex` is a
``PandasIndex`` that, for exact selection (``method=None``), treats labels
within :data:`TOLERANCE_M` of a voxel centre as that voxel centre, in scalars,
lists, arrays and slice bounds alike; and for ``method="nearest"`` picks the
voxel iblatlas' ``BrainCoordinates.xyz2i`` picks (:func:`agea_xr.layout.nearest_index`),
also for points exactly half-way between two voxel centres. Alignment
(``equals``, ``join``, ``reindex_like``) treats values within the same tolerance
as the same plane.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from xarray import Variable
from xarray.core.indexes import PandasIndex, get_indexer_nd
from xarray.core.indexing import IndexSelResult

from . import layout

__all__ = ["TOLERANCE_M", "GridIndex", "set_grid_indexes"]

#: Labels within this distance (metres) of a voxel centre select it exactly: 1 nm,
#: far above floating-point noise (1e-18 m) and far below the 200 um voxel.
TOLERANCE_M = 1e-9


class GridIndex(PandasIndex):
    """Index of one grid coordinate (``ml``, ``dv`` or ``ap``, metres from bregma).

    Exact selection (``ds.sel(ap=0.0054)``, ``ds.sel(ap=ba.bc.yscale[3])``, a list,
    a slice) matches a voxel centre within :data:`TOLERANCE_M`; a label further
    from every centre raises a KeyError that names the nearest one and suggests
    ``method="nearest"``. ``method="nearest"`` picks the voxel of iblatlas'
    ``xyz2i`` rule (:func:`agea_xr.layout.nearest_index`: ``numpy.round`` of the
    fractional index, so a point exactly half-way between two voxel centres goes
    where iblatlas sends it); when that voxel is not in a selection of the grid,
    the nearest remaining one is taken (pandas' rule).

    Set by :func:`agea_xr.open_dataset`; :func:`set_grid_indexes` sets it on any
    object with the grid coordinates.

    Parameters
    ----------
    array : array-like
        Coordinate values in metres.
    dim : hashable
        Dimension name.
    coord_dtype : dtype, optional
    fastpath : bool, default False
    axis : {"ml", "dv", "ap"}, optional
        Which grid axis the values lie on, for the nearest-voxel rule; by default
        ``dim`` if it is one of them, else None (pandas' nearest rule).
    """

    def __init__(
        self,
        array: Any,
        dim: Hashable,
        coord_dtype: Any = None,
        *,
        fastpath: bool = False,
        axis: str | None = None,
    ):
        super().__init__(array, dim, coord_dtype, fastpath=fastpath)
        self.axis = axis if axis is not None else (dim if dim in layout.GRID_DIMS else None)

    def _replace(self, index, dim=None, coord_dtype=None):
        return type(self)(
            index,
            self.dim if dim is None else dim,
            self.coord_dtype if coord_dtype is None else coord_dtype,
            fastpath=True,
            axis=self.axis,
        )

    @classmethod
    def from_variables(cls, variables: Mapping[Any, Variable], *, options: Mapping[str, Any]):
        """Build from one 1-D coordinate (``Dataset.set_xindex``); option ``axis``."""
        obj = super().from_variables(variables, options=options)
        if options.get("axis") is not None:
            obj.axis = options["axis"]
        return obj

    @classmethod
    def concat(
        cls,
        indexes: Sequence[GridIndex],
        dim: Hashable,
        positions: Iterable[Iterable[int]] | None = None,
    ) -> GridIndex:
        out = super().concat(indexes, dim, positions)
        if indexes:
            out.axis = indexes[0].axis
        return out

    # --- matching labels to voxel centres --------------------------------------------
    def _numeric(self) -> bool:
        return self.index.dtype.kind == "f"

    def _nearest_values(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each label: the nearest value of this index and its distance."""
        values = np.asarray(self.index, dtype=np.float64)
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        flat = np.asarray(labels, dtype=np.float64).reshape(-1)
        right = np.clip(np.searchsorted(ordered, flat), 0, ordered.size - 1)
        left = np.clip(right - 1, 0, ordered.size - 1)
        pick = np.where(np.abs(ordered[left] - flat) <= np.abs(ordered[right] - flat), left, right)
        nearest = ordered[pick]
        return nearest.reshape(np.shape(labels)), np.abs(nearest - flat).reshape(np.shape(labels))

    def _snap(self, labels: Any) -> Any:
        """``labels`` with every value within TOLERANCE_M of a voxel centre replaced by it."""
        if not self._numeric() or len(self.index) == 0:
            return labels
        raw = (
            labels.values
            if isinstance(labels, Variable) or hasattr(labels, "variable")
            else labels
        )
        array = np.asarray(raw)
        if array.dtype.kind not in "fiu":
            return labels
        nearest, distance = self._nearest_values(array)
        close = distance <= TOLERANCE_M
        if not close.any():
            return labels
        snapped = np.where(close, nearest, array.astype(np.float64))
        if isinstance(labels, Variable) or hasattr(labels, "variable"):
            return labels.copy(data=snapped)
        return snapped[()] if snapped.ndim == 0 else snapped

    def _not_found(self, label: Any) -> KeyError:
        name = self.index.name
        flat = np.asarray(getattr(label, "values", label), dtype=np.float64).reshape(-1)
        nearest, distance = self._nearest_values(flat)
        bad = np.flatnonzero(~(distance <= TOLERANCE_M))
        k = int(bad[0]) if bad.size else 0
        value = float(flat[k])
        if not np.isfinite(value):
            return KeyError(
                f"{name}={value!r} is not a coordinate: pass a finite number of metres."
            )
        hint = ""
        if abs(value) > 0.05:
            _, in_metres = self._nearest_values(np.array([value / 1000]))
            if in_metres[0] <= TOLERANCE_M:
                hint = f" {value!r} looks like millimetres: in metres it is {value / 1000!r}."
        return KeyError(
            f"{name}={value!r} m is not a voxel centre of this grid: the nearest is "
            f"{float(nearest[k])!r} m, {distance[k] * 1e6:.4g} um away (voxel centres are "
            f"200 um apart, in metres from bregma).{hint} Pass method='nearest' for the "
            f"nearest plane (e.g. .sel({name}={value!r}, method='nearest')), or a slice for "
            "a range."
        )

    def _nearest_positions(self, labels: np.ndarray, tolerance: Any = None) -> np.ndarray:
        """Positions of the voxel iblatlas' rule picks; pandas' nearest where it is absent."""
        flat = np.asarray(labels, dtype=np.float64).reshape(-1)
        positions = get_indexer_nd(self.index, flat, "nearest", tolerance)
        if self.axis is None or not self._numeric():
            return positions.reshape(np.shape(labels))
        own = layout.nearest_index(np.asarray(self.index, dtype=np.float64), self.axis)
        on_grid = np.isfinite(own)
        if on_grid.any():
            rebuilt = own * layout.DXYZ[layout.XYZ_DIMS.index(self.axis)]
            rebuilt = rebuilt + layout.XYZ0[layout.XYZ_DIMS.index(self.axis)]
            on_grid &= np.abs(rebuilt - np.asarray(self.index, dtype=np.float64)) <= TOLERANCE_M
        if not on_grid.all():
            return positions.reshape(np.shape(labels))  # not the AGEA grid: pandas' rule
        where = pd.Index(own.astype(np.int64))
        if not where.is_unique:
            return positions.reshape(np.shape(labels))
        finite = np.isfinite(flat)
        wanted = layout.nearest_index(np.where(finite, flat, 0.0), self.axis)
        rule = where.get_indexer(wanted.astype(np.int64))
        use = finite & (rule >= 0)
        if tolerance is not None:
            values = np.asarray(self.index, dtype=np.float64)
            use &= np.abs(values[np.clip(rule, 0, None)] - flat) <= tolerance
        positions = np.where(use, rule, positions)
        return positions.reshape(np.shape(labels))

    # --- what xarray asks ------------------------------------------------------------
    def sel(self, labels: dict[Any, Any], method=None, tolerance=None) -> IndexSelResult:
        """Positions of the asked planes (see the class docstring for the matching rules).

        Raises
        ------
        KeyError
            For a label more than :data:`TOLERANCE_M` from every voxel centre
            (``method=None``), naming the nearest centre and the remedy.
        """
        ((name, label),) = labels.items()
        if isinstance(label, slice):
            label = slice(self._snap(label.start), self._snap(label.stop), label.step)
            return super().sel({name: label}, method=method, tolerance=tolerance)
        if method is None:
            snapped = self._snap(label)
            try:
                return super().sel({name: snapped}, method=None, tolerance=tolerance)
            except KeyError:
                if not self._numeric():
                    raise
                raise self._not_found(label) from None
        result = super().sel({name: label}, method=method, tolerance=tolerance)
        if method != "nearest":
            return result
        indexer = result.dim_indexers[self.dim]
        raw = np.asarray(getattr(label, "values", label))
        if raw.dtype.kind not in "fiu":
            return result
        ruled = self._nearest_positions(raw, tolerance)
        if isinstance(indexer, Variable) or hasattr(indexer, "variable"):
            indexer = indexer.copy(data=ruled.reshape(indexer.shape))
        elif np.ndim(indexer) == 0:
            indexer = int(ruled.reshape(-1)[0])
        else:
            indexer = ruled.reshape(np.shape(indexer))
        return IndexSelResult({self.dim: indexer})

    def equals(self, other, *, exclude=None) -> bool:
        """Same planes: same length and values within :data:`TOLERANCE_M`."""
        if not isinstance(other, PandasIndex) or self.dim != other.dim:
            return False
        if not (self._numeric() and other.index.dtype.kind == "f"):
            return super().equals(other)
        if len(self.index) != len(other.index):
            return False
        return bool(
            np.all(
                np.abs(np.asarray(self.index, float) - np.asarray(other.index, float))
                <= TOLERANCE_M
            )
        )

    def _snapped_index(self, other: PandasIndex) -> pd.Index:
        if not (self._numeric() and other.index.dtype.kind == "f") or len(self.index) == 0:
            return other.index
        values = np.asarray(other.index, dtype=np.float64)
        return pd.Index(np.asarray(self._snap(values), dtype=np.float64), name=other.index.name)

    def join(self, other: PandasIndex, how: str = "inner") -> GridIndex:
        """Union or intersection of the planes; planes within 1 nm are the same plane."""
        theirs = self._snapped_index(other)
        index = self.index.union(theirs) if how == "outer" else self.index.intersection(theirs)
        coord_dtype = np.result_type(self.coord_dtype, other.coord_dtype)
        return type(self)(index, self.dim, coord_dtype=coord_dtype, axis=self.axis)

    def reindex_like(self, other: PandasIndex, method=None, tolerance=None) -> dict:
        """Positions here of ``other``'s planes (-1 where absent)."""
        if not self.index.is_unique:
            raise ValueError(
                f"cannot reindex or align along dimension {self.dim!r} because the "
                "(pandas) index has duplicate values"
            )
        if method == "nearest":
            values = np.asarray(other.index, dtype=np.float64)
            return {self.dim: self._nearest_positions(values, tolerance)}
        theirs = self._snapped_index(other)
        return {self.dim: get_indexer_nd(self.index, theirs, method, tolerance)}

    def __repr__(self) -> str:
        return f"GridIndex({self.index!r})"


def set_grid_indexes(obj):
    """``obj`` with a :class:`GridIndex` on each of its ``ml``, ``dv``, ``ap`` coordinates.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        A new object (``obj`` itself when there is nothing to change).

    Examples
    --------
    >>> import xarray as xr
    >>> from agea_xr import layout
    >>> da = xr.DataArray(layout.ap_coords(), dims="ap", coords={"ap": layout.ap_coords()})
    >>> plane = set_grid_indexes(da).sel(ap=0.0048)  # a typed decimal
    >>> float(plane.ap)  # the voxel centre, as iblatlas computes it
    0.0048000000000000004
    """
    for dim in layout.GRID_DIMS:
        index = obj.xindexes.get(dim)
        if type(index) is PandasIndex and obj.coords[dim].dims == (dim,):
            obj = obj.drop_indexes(dim).set_xindex(dim, GridIndex)
    return obj
