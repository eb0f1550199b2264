"""The part of a dataset an export writes: genes, experiments, regions, lazily."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_integer
from ..gene_index import set_gene_index
from ..layout import EXPERIMENT

__all__ = ["subset"]


def _as_list(value: Any) -> list:
    if isinstance(value, (str, bytes, int, np.integer)):
        return [value]
    return list(value)


def subset(
    ds: xr.Dataset,
    *,
    genes: str | Iterable[str] | None = None,
    experiments: int | Iterable[int] | None = None,
    regions: str | int | Iterable[str | int] | None = None,
    mapping: str = "Allen",
    hemisphere: str | None = None,
    crop: bool = True,
) -> xr.Dataset:
    """The part of ``ds`` that :func:`export` writes, lazily.

    Parameters
    ----------
    ds : xarray.Dataset
    genes : str or list of str, optional
        Keep every experiment of these genes, in the order given.
    experiments : int or list of int, optional
        Keep these Allen experiment ids (after those of ``genes``, if both are given).
    regions : str, int or list of them, optional
        Keep the voxels of these regions (acronyms or Allen ids, descendants
        included): other voxels of real-valued volumes become NaN, as with
        :func:`agea_xr.regions.sel_region`; ``label`` is kept whole.
    mapping : str, default "Allen"
        Mapping the voxels are assigned with (see :data:`agea_xr.regions.MAPPINGS`).
    hemisphere : {None, "left", "right"}, default None
        Restrict the regions to one hemisphere.
    crop : bool, default True
        With ``regions``, also cut the grid to the regions' bounding box.

    Returns
    -------
    xarray.Dataset
        Attributes and encodings of the variables are kept; ``attrs["subset"]``
        says what was selected.

    Raises
    ------
    KeyError
        For an unknown gene (with close matches), experiment id or region.
    TypeError
        For an experiment id that is not a number.
    ValueError
        For an empty ``genes``, ``experiments`` or ``regions`` list, an experiment
        id that is not a whole number (``71717084.9`` is refused, not truncated),
        an unknown mapping or hemisphere, or regions without a label volume.

    Examples
    --------
    >>> import agea_xr
    >>> part = subset(agea_xr.open_sample(), genes="Pdyn", regions="CA1")
    >>> list(part.gene.values), part.sizes["ml"] < 58, part.attrs["subset"]
    (['Pdyn'], True, 'genes: Pdyn; regions: CA1 (Allen mapping, masked, cropped)')
    """
    out = ds
    described = []
    if genes is not None or experiments is not None:
        positions: list[np.ndarray] = []
        if genes is not None:
            genes = [str(g) for g in _as_list(genes)]
            if not genes:
                raise ValueError(
                    "genes=[] selects no experiment, so nothing would be exported: pass at "
                    "least one gene symbol (e.g. genes=['Pdyn']), or genes=None to keep "
                    "every gene."
                )
            out = set_gene_index(out)
            index = out.xindexes["gene"]
            positions.append(index.positions(genes))
            described.append("genes: " + ", ".join(genes))
        if experiments is not None:
            experiments = [check_integer(e, "experiments") for e in _as_list(experiments)]
            if not experiments:
                raise ValueError(
                    "experiments=[] selects no experiment, so nothing would be exported: "
                    "pass at least one Allen experiment id (see ds.experiment.values), or "
                    "experiments=None to keep every experiment."
                )
            ids = out[EXPERIMENT].to_index()
            unknown = [e for e in experiments if e not in ids]
            if unknown:
                raise KeyError(
                    f"Experiment id(s) {unknown} are not in this dataset; it has "
                    f"{ids.size} experiments, e.g. {ids[:3].tolist()}. List them with "
                    "ds.experiment.values."
                )
            positions.append(ids.get_indexer(experiments))
            described.append("experiments: " + ", ".join(map(str, experiments)))
        order = np.concatenate(positions).astype(np.int64)
        _, first = np.unique(order, return_index=True)
        out = out.isel({EXPERIMENT: order[np.sort(first)]})
    if regions is not None:
        from ..regions import sel_region

        masked = sel_region(out, regions, mapping=mapping, hemisphere=hemisphere, crop=crop)
        for name, var in masked.data_vars.items():
            # .where() drops attributes and encodings: the values are the same kind
            var.attrs = dict(out[name].attrs)
            var.encoding = dict(out[name].encoding)
        out = masked
        names = ", ".join(map(str, _as_list(regions)))
        side = f", {hemisphere} hemisphere" if hemisphere else ""
        how = "masked, cropped" if crop else "masked"
        described.append(f"regions: {names} ({mapping} mapping{side}, {how})")
    if described:
        out = out.copy(deep=False)
        out.attrs = {**ds.attrs, "subset": "; ".join(described)}
    return out
