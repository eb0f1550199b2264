"""An xarray index for gene symbols, which repeat: one gene, several experiments.

``pandas`` refuses list look-ups on a non-unique index and returns an int, a
slice or a mask for a scalar one, depending on the data. :class:`GeneIndex`
always answers with the positions of *every* experiment of the asked genes,
in the order asked, keeping the ``experiment`` dimension, and explains unknown
symbols with their closest matches.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from xarray import Variable
from xarray.core.indexes import PandasIndex
from xarray.core.indexing import IndexSelResult

__all__ = ["GeneIndex", "close_matches", "unknown_gene_message"]


def close_matches(value: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """Closest symbols to ``value`` among ``choices`` (case-insensitive).

    Parameters
    ----------
    value : str
        The unknown symbol.
    choices : iterable of str
        Known symbols.
    n : int, default 5
        At most this many matches.

    Returns
    -------
    list of str
        Matches, best first; symbols differing only by case come first.

    Examples
    --------
    >>> close_matches("pdyn", ["Pdyn", "Penk", "Pdx1"])
    ['Pdyn']
    >>> close_matches("Slc17a6x", ["Slc17a6", "Slc17a7", "Gad1"])
    ['Slc17a6', 'Slc17a7']
    """
    choices = list(dict.fromkeys(str(c) for c in choices))
    lowered = {c.lower(): c for c in choices}
    exact = [lowered[value.lower()]] if value.lower() in lowered else []
    fuzzy = difflib.get_close_matches(value.lower(), list(lowered), n=n, cutoff=0.6)
    out = exact + [lowered[m] for m in fuzzy if lowered[m] not in exact]
    return out[:n]


def unknown_gene_message(value: Any, choices: Iterable[str]) -> str:
    """The error message for a gene symbol that is not in the dataset.

    Parameters
    ----------
    value : object
        The unknown symbol.
    choices : iterable of str
        Known symbols.

    Returns
    -------
    str
    """
    matches = close_matches(str(value), choices)
    hint = f" Closest matches: {', '.join(matches)}." if matches else ""
    return (
        f"Gene {value!r} is not in this dataset.{hint} Gene symbols are case-sensitive "
        "(MGI symbols, e.g. 'Pdyn'); list them with ds.gene.values or search with "
        "ds.agea.search_genes(...)."
    )


class GeneIndex(PandasIndex):
    """Index of a non-unique ``gene`` coordinate along ``experiment``.

    ``.sel(gene="Pdyn")`` returns every experiment of Pdyn (the dimension is
    kept even when there is only one); ``.sel(gene=["Pdyn", "Sst"])`` returns
    the experiments of each gene in turn. Set it with
    ``ds.set_xindex("gene", GeneIndex)``; :func:`agea_xr.open_dataset` does.
    """

    def sel(self, labels: dict[Any, Any], method=None, tolerance=None) -> IndexSelResult:
        """Positions of all experiments of the given gene symbol(s).

        Parameters
        ----------
        labels : dict
            ``{"gene": symbol or list of symbols}``.
        method, tolerance : None
            Not supported: gene symbols are matched exactly.

        Returns
        -------
        IndexSelResult

        Raises
        ------
        KeyError
            For an unknown symbol, with the closest matches.
        ValueError
            If ``method`` or ``tolerance`` is given, or a slice is asked for.
        """
        if method is not None or tolerance is not None:
            raise ValueError(
                f"method={method!r}/tolerance={tolerance!r} make no sense for gene symbols, "
                "which are matched exactly: drop them."
            )
        ((_, label),) = labels.items()
        if isinstance(label, slice):
            raise ValueError(
                f"Cannot select genes with the slice {label!r}: gene symbols have no order. "
                "Pass one symbol or a list of symbols."
            )
        indexer = self.positions(label)
        if indexer.size and np.array_equal(indexer, np.arange(indexer[0], indexer[-1] + 1)):
            # one ascending run (a gene with one experiment, or consecutive ones): a slice
            # lets dask read just those experiments instead of their whole chunk
            return IndexSelResult({self.dim: slice(int(indexer[0]), int(indexer[-1]) + 1)})
        return IndexSelResult({self.dim: indexer})

    def positions(self, genes: Any) -> np.ndarray:
        """Positions along ``experiment`` of every experiment of ``genes``, in order asked.

        Parameters
        ----------
        genes : str or sequence of str
            Gene symbol(s).

        Returns
        -------
        numpy.ndarray
            int64 positions (a gene's experiments in file order, genes in turn).

        Raises
        ------
        KeyError
            For an unknown symbol, with the closest matches.
        """
        if isinstance(genes, Variable) or hasattr(genes, "variable"):
            genes = np.asarray(genes)
        wanted = np.asarray(genes, dtype=object).reshape(-1)
        found = [self._positions(value) for value in wanted]
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)

    def _positions(self, value: Hashable) -> np.ndarray:
        try:
            loc = self.index.get_loc(value)
        except (KeyError, TypeError):
            raise KeyError(unknown_gene_message(value, self.index.unique())) from None
        return np.arange(len(self.index), dtype=np.int64)[loc].reshape(-1)

    @classmethod
    def from_table(cls, genes: pd.Series | np.ndarray, dim: Hashable) -> GeneIndex:
        """Build the index straight from an array of symbols.

        Parameters
        ----------
        genes : array-like of str
            One symbol per experiment.
        dim : hashable
            The dimension the symbols run along (``"experiment"``).

        Returns
        -------
        GeneIndex
        """
        return cls(pd.Index(np.asarray(genes, dtype=object), name="gene"), dim)
