"""Two xarray indexes, on ``experiment`` and on ``gene``, so that gene labels follow their data.

Gene symbols repeat (one gene, several experiments) and each belongs to one
experiment. Two single-coordinate indexes (the custom ``Index`` API) both carry
the (experiment id, gene symbol) pairs:

- :class:`ExperimentIndex` on ``experiment``: a ``PandasIndex`` that also knows
  the gene of each id, so ``isel``, ``sortby``, ``concat``, ``reindex_like`` and
  alignment with any ``join`` (``xr.align``, ``xr.merge``, arithmetic) move the
  genes with the ids, and objects whose common ids carry different genes are
  refused loudly.
- :class:`GeneIndex` on ``gene``: ``.sel(gene="Pdyn")`` returns every experiment
  of the gene, keeping the ``experiment`` dimension; unknown symbols raise a
  KeyError naming the closest matches. It aligns exactly as the experiment index
  does (by id), so both always give the same positions.

Two single-coordinate indexes, rather than one over both coordinates, keep the
common xarray idioms working: ``ds["x"] = ds.expression * 2``,
``ds.assign(...)``, ``ds.drop_attrs()`` and ``ds.drop_vars("gene")`` (xarray
drops a DataArray's non-dimension coordinates when assigning it, which a
multi-coordinate index forbids).

Limits, all loud:

- ``.sel(gene=..., experiment=...)`` in one call raises xarray's "more than one
  index" ValueError: chain the two, ``ds.sel(gene="Pdyn").sel(experiment=71717084)``.
- ``drop_sel`` takes dimension names only (drop a gene with
  ``ds.sel(experiment=ds.gene != "Pdyn")``).
- ``reindex(experiment=[...])`` with plain labels raises "conflicting indexes"
  unless the labels are unchanged: use :func:`agea_xr.genes.reindex_experiments`,
  ``ds.sel(experiment=ids)`` for known ids, or ``reindex_like``/``xr.align`` with
  an object that has both indexes.

One case xarray does not catch (pydata/xarray#10714): ``obj.drop_vars("gene")``
keeps the :class:`ExperimentIndex`; aligned with a gene-labelled object holding the
same ids in another order, xarray reorders that object's data but keeps its
``gene`` index (found in one object only) as it was. Remove gene labels with
``drop_gene_index(obj).drop_vars("gene")`` instead: the plain index then makes the
mismatch a loud "conflicting indexes".
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from ._experiment import ExperimentIndex
from ._gene import GeneIndex
from ._pairs import unknown_gene_message

__all__ = [
    "ExperimentIndex",
    "GeneIndex",
    "drop_gene_index",
    "set_gene_index",
    "unknown_gene_message",
]


def set_gene_index(obj, dim: Hashable = "experiment", gene: Hashable = "gene"):
    """``obj`` with an :class:`ExperimentIndex` and a :class:`GeneIndex` on its coordinates.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        With a ``dim`` dimension coordinate and a ``gene`` coordinate along it.
    dim, gene : hashable
        Names of the two coordinates.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        ``obj`` itself when it already has both indexes, else a new object.

    Raises
    ------
    ValueError
        If the coordinates are missing or not 1-D along ``dim``.

    Examples
    --------
    >>> import xarray as xr
    >>> da = xr.DataArray(
    ...     [1.0, 2.0, 3.0], dims="experiment",
    ...     coords={"experiment": [5, 6, 7], "gene": ("experiment", ["A", "B", "A"])},
    ... )
    >>> set_gene_index(da).sel(gene="A").experiment.values.tolist()
    [5, 7]
    """
    if isinstance(obj.xindexes.get(gene), GeneIndex) and isinstance(
        obj.xindexes.get(dim), ExperimentIndex
    ):
        return obj
    for name in (dim, gene):
        if name not in obj.coords or obj.coords[name].dims != (dim,):
            raise ValueError(
                f"Setting the gene index needs the 1-D coordinates {dim!r} and {gene!r} along "
                f"{dim!r}; this object has coordinates {list(obj.coords)}."
            )
    indexed = [name for name in (dim, gene) if name in obj.xindexes]
    if indexed:
        obj = obj.drop_indexes(indexed)
    ids = obj.coords[dim].values
    genes = np.asarray(obj.coords[gene].values, dtype=object)
    obj = obj.set_xindex(dim, ExperimentIndex, genes=genes)
    return obj.set_xindex(gene, GeneIndex, experiments=ids)


def drop_gene_index(obj, dim: Hashable = "experiment"):
    """``obj`` with a plain pandas index on ``experiment`` and no index on ``gene``.

    What file writers and code that re-assigns ``gene`` need; the ``gene``
    coordinate is kept, unindexed. Objects without the gene indexes are returned
    as is.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
    dim : hashable, default "experiment"

    Returns
    -------
    xarray.Dataset or xarray.DataArray
    """
    genes = [n for n, i in obj.xindexes.items() if isinstance(i, GeneIndex) and i.dim == dim]
    if genes:
        obj = obj.drop_indexes(genes)
    if isinstance(obj.xindexes.get(dim), ExperimentIndex):
        obj = obj.drop_indexes(dim).set_xindex(dim)
    return obj
