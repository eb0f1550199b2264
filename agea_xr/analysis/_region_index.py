"""The ``region`` index of region results: selecting a region that is not a row says why.

Region ids are labels, not positions on a line: ``.sel(region=382)`` under a
mapping where CA1 is not a row would fail with xarray's KeyError, which
suggests ``method='nearest'``, and the nearest id is an unrelated region.
:class:`RegionIndex` behaves as xarray's default index otherwise, refuses
``method=``, and names, for a region that is not a row, where its voxels are
under this result's mapping and which mappings have it as a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from xarray.core.indexes import PandasIndex

from ..regions import MAPPINGS, brain_regions

__all__ = ["RegionIndex", "missing_region_message"]


def _acronym(rid: int) -> str | None:
    br = brain_regions()
    hit = np.flatnonzero(br.id == rid)
    return str(br.acronym[hit[0]]) if hit.size else None


def _named(ids) -> str:
    return ", ".join(f"{_acronym(int(i))} ({int(i)})" for i in ids)


def missing_region_message(
    wanted: int,
    rows: np.ndarray,
    mapping: str | None,
    hemisphere: str | None,
    present: np.ndarray | None,
) -> str:
    """Why region id ``wanted`` is not among ``rows``, and where to find it.

    Parameters
    ----------
    wanted : int
        The Allen id asked for (negative: left hemisphere).
    rows : numpy.ndarray
        The ids of the result's rows.
    mapping, hemisphere : str or None
        Of the result (None when unknown).
    present : numpy.ndarray or None
        The ``BrainRegions`` indices the dataset's label holds (None: any).

    Returns
    -------
    str
    """
    br = brain_regions()
    acronym = _acronym(wanted) or _acronym(-wanted)
    if acronym is None:
        return (
            f"Region id {wanted} is not an Allen structure id (iblatlas BrainRegions has no "
            "such id). The rows are Allen ids; find one by acronym with "
            "agea_xr.region_table() or result.acronym."
        )
    name = f"{acronym} ({wanted})"
    under = f" under {mapping}" if mapping else ""
    if -wanted in rows:
        side = "left" if wanted > 0 else "right"
        return (
            f"{name} is not a row of this result{under}: its rows hold the {side} "
            f"hemisphere as {-wanted} (left rows have negative ids, hemisphere="
            f"{hemisphere!r}). Select region={-wanted}."
        )
    present = np.arange(br.id.size) if present is None else np.asarray(present)
    as_row = [m for m in MAPPINGS if abs(wanted) in np.abs(br.id[br.mappings[m][present]])]
    parts = [f"{name} is not a row of this result{under}."]
    if mapping:
        own = np.abs(br.descendants(abs(wanted)).id)
        inside = present[np.isin(np.abs(br.id[present]), own)]
        where = np.unique(np.abs(br.id[br.mappings[mapping][inside]]))
        where = [i for i in where if i != 0]
        subdivisions = [i for i in where if i in own]
        coarser = [i for i in where if i not in own]  # rows above it (e.g. root): mixed
        short = name.split(" (")[0]
        if len(where) == 1 and subdivisions:
            parts.append(f"Under {mapping} its voxels are in the row {_named(where)}.")
        elif where:
            if subdivisions:
                n = len(subdivisions)
                shown = _named(subdivisions[:6]) + (f" and {n - 6} more" if n > 6 else "")
                text = (
                    f"Under {mapping} its voxels are in the rows of its subdivisions {shown} "
                    f"(region={[int(i) for i in subdivisions]})"
                )
                if coarser:
                    text += (
                        f"; voxels labelled only as {short} fall into {_named(coarser)}, "
                        "which also holds other regions' voxels"
                    )
            else:
                text = (
                    f"Under {mapping} its voxels fall into the coarser row {_named(coarser)}, "
                    "which also holds other regions' voxels"
                )
            parts.append(
                text + ". A mean over the whole region is not a sum of rows: use a mapping "
                f"that has it as a row, or ds.agea.sel_region({abs(int(wanted))}) for its voxels."
            )
        else:
            parts.append("No voxel of this dataset's label lies in it.")
    if as_row:
        parts.append(
            f"It is a row under {', '.join(as_row)}: region_expression(ds, mapping="
            f"{as_row[0]!r}, ...)."
        )
    else:
        parts.append("No mapping has it as a row on this grid.")
    return " ".join(parts)


class RegionIndex(PandasIndex):
    """xarray's index of Allen ids, which explains a region that is not a row.

    Set by :func:`agea_xr.analysis.region_expression` on its ``region``
    coordinate; build one with ``result.set_xindex("region", RegionIndex,
    mapping=..., hemisphere=..., present=...)``.
    """

    __slots__ = ("hemisphere", "mapping", "present")

    def __init__(
        self,
        array: Any,
        dim: Any,
        coord_dtype: Any = None,
        *,
        fastpath: bool = False,
        mapping: str | None = None,
        hemisphere: str | None = None,
        present: np.ndarray | None = None,
    ) -> None:
        super().__init__(array, dim, coord_dtype, fastpath=fastpath)
        self.mapping = mapping
        self.hemisphere = hemisphere
        self.present = present

    @classmethod
    def from_variables(cls, variables: Mapping[Any, Any], *, options: Mapping[str, Any]):
        obj = super().from_variables(variables, options=options)
        obj.mapping = options.get("mapping")
        obj.hemisphere = options.get("hemisphere")
        obj.present = options.get("present")
        return obj

    def _replace(self, index, dim=None, coord_dtype=None):
        out = super()._replace(index, dim, coord_dtype)
        out.mapping, out.hemisphere, out.present = self.mapping, self.hemisphere, self.present
        return out

    def sel(self, labels: dict[Any, Any], method=None, tolerance=None):
        if method is not None:
            raise ValueError(
                f"method={method!r} has no meaning for region ids: the nearest id is an "
                "unrelated region. Select rows by exact Allen id (region=382), or by "
                "acronym with result.where(result.acronym == 'CA1', drop=True)."
            )
        try:
            return super().sel(labels, method=None, tolerance=tolerance)
        except KeyError:
            label = np.atleast_1d(np.asarray(next(iter(labels.values()))))
            rows = self.index.to_numpy()
            if label.dtype.kind not in "iuf":
                raise KeyError(
                    f"Region rows are Allen ids (integers), got {label.tolist()!r}: select "
                    "by acronym with result.where(result.acronym == 'CA1', drop=True)."
                ) from None
            missing = [int(v) for v in label if v not in rows]
            if not missing:
                raise
            raise KeyError(
                missing_region_message(
                    missing[0], rows, self.mapping, self.hemisphere, self.present
                )
            ) from None
