"""The index on ``gene``: every experiment of a symbol, aligned by id."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from xarray import Variable
from xarray.core.indexes import Index, PandasIndex
from xarray.core.indexing import IndexSelResult

from ._pairs import (
    _check_lengths,
    _check_same_genes,
    _concat_genes,
    _frozen,
    _join_genes,
    _join_ids,
    _n_genes,
    _positional,
    _same_genes,
    unknown_gene_message,
)


class GeneIndex(Index):
    """Index of the ``gene`` coordinate: select experiments by gene symbol.

    ``.sel(gene="Pdyn")`` returns every experiment of Pdyn (the dimension is kept
    even when there is only one; a run of consecutive experiments comes back as a
    slice, so dask reads only those); ``.sel(gene=["Pdyn", "Sst"])`` returns the
    experiments of each gene in turn. ``method``/``tolerance`` never apply to gene
    symbols (they apply to the other coordinates of the same ``.sel``). The index
    carries each experiment's id too, and aligns by id exactly as the
    :class:`ExperimentIndex` on ``experiment`` does, so the two always agree.

    Selecting by gene and by experiment are chained, not one call:
    ``ds.sel(gene="Pdyn").sel(experiment=71717084)``; ``ds.sel(gene="Pdyn",
    experiment=71717084)`` raises xarray's ValueError about label-based selection
    with "more than one index" over ``experiment``.
    :func:`agea_xr.open_dataset` sets both indexes; :func:`set_gene_index` sets
    them on any object with both coordinates.

    Parameters
    ----------
    experiments : pandas.Index
        Experiment ids, named after the dimension.
    genes : array-like of str
        One gene symbol per experiment.
    gene_name : hashable, default "gene"
        Name of the gene coordinate.
    """

    def __init__(self, experiments: pd.Index, genes: Any, gene_name: Hashable = "gene"):
        genes = _frozen(genes)
        _check_lengths(len(experiments), genes)
        self._ids = experiments
        self._genes = genes
        self._gene_name = gene_name
        self._lookup: pd.Index | None = None

    # --- construction ------------------------------------------------------------
    @classmethod
    def from_table(
        cls,
        experiments: Sequence[int] | np.ndarray,
        genes: Sequence[str] | np.ndarray,
        dim: Hashable = "experiment",
        gene_name: Hashable = "gene",
    ) -> GeneIndex:
        """Build the index from one experiment id and one gene symbol per experiment.

        Parameters
        ----------
        experiments : array-like of int
            Allen experiment ids, the values of the ``dim`` coordinate.
        genes : array-like of str
            Gene symbols, same length.
        dim : hashable, default "experiment"
        gene_name : hashable, default "gene"

        Returns
        -------
        GeneIndex

        Examples
        --------
        >>> index = GeneIndex.from_table([71717084, 74272479, 1], ["Pdyn", "Nrp1", "Pdyn"])
        >>> index.sel({"gene": "Pdyn"}).dim_indexers["experiment"].tolist()
        [0, 2]
        """
        return cls(pd.Index(np.asarray(experiments), name=dim), genes, gene_name)

    @classmethod
    def from_variables(cls, variables: Mapping[Any, Variable], *, options: Mapping[str, Any]):
        """Build from the ``gene`` coordinate and ``options["experiments"]`` (its ids).

        Raises
        ------
        ValueError
            Unless given one 1-D coordinate and the ids of its dimension.
        """
        (name, var), *rest = variables.items()
        if rest or var.ndim != 1 or "experiments" not in options:
            raise ValueError(
                f"GeneIndex indexes the gene symbols along the experiment dimension and needs "
                f"the experiment ids; got {list(variables)}. Use "
                "agea_xr.gene_index.set_gene_index(obj)."
            )
        ids = pd.Index(np.asarray(options["experiments"]), name=var.dims[0])
        return cls(ids, np.asarray(var.values, dtype=object), name)

    def _replace(self, ids: pd.Index, genes: np.ndarray) -> GeneIndex:
        return type(self)(ids, genes, self._gene_name)

    def _pairs(self) -> tuple[pd.Index, np.ndarray]:
        return self._ids, self._genes

    # --- what xarray asks ----------------------------------------------------------
    @property
    def dim(self) -> Hashable:
        """The dimension the index runs along (``"experiment"``)."""
        return self._ids.name

    @property
    def genes(self) -> np.ndarray:
        """The gene symbol of each experiment (read-only object array)."""
        return self._genes

    def create_variables(self, variables: Mapping[Any, Variable] | None = None):
        """The ``gene`` coordinate variable (attributes and encoding kept)."""
        from xarray.core.indexing import PandasIndexingAdapter
        from xarray.core.variable import IndexVariable

        old = (variables or {}).get(self._gene_name)
        data = PandasIndexingAdapter(pd.Index(self._genes, dtype=object), dtype=np.dtype("O"))
        var = IndexVariable(
            self.dim,
            data,
            attrs=None if old is None else old.attrs,
            encoding=None if old is None else old.encoding,
            fastpath=True,
        )
        return {self._gene_name: var}

    def to_pandas_index(self) -> pd.Index:
        """The gene symbols as a ``pandas.Index``."""
        return pd.Index(self._genes, dtype=object, name=self._gene_name)

    def isel(self, indexers: Mapping[Any, Any]) -> GeneIndex | None:
        """Keep the experiments at these positions (None, dropping the index, for a scalar)."""
        indexer = _positional(indexers[self.dim], self.dim)
        if indexer is None or (not isinstance(indexer, slice) and np.ndim(indexer) == 0):
            return None
        if isinstance(indexer, slice) and indexer == slice(None):
            return self
        return self._replace(self._ids[indexer], self._genes[indexer])

    def sel(self, labels: dict[Any, Any], method=None, tolerance=None) -> IndexSelResult:
        """Positions of every experiment of the gene(s).

        Parameters
        ----------
        labels : dict
            ``{"gene": symbol or list of symbols}``.
        method, tolerance : optional
            Ignored: symbols match exactly (they are for other coordinates).

        Returns
        -------
        IndexSelResult
            A slice for one ascending run of experiments, else int64 positions.

        Raises
        ------
        KeyError
            For an unknown symbol, with the closest matches.
        ValueError
            For a slice of gene symbols.
        """
        (label,) = labels.values()
        if isinstance(label, slice):
            raise ValueError(
                f"Cannot select genes with the slice {label!r}: gene symbols have no "
                "order. Pass one symbol or a list of symbols."
            )
        positions = self.positions(label)
        if positions.size and np.array_equal(
            positions, np.arange(positions[0], positions[-1] + 1)
        ):
            # one ascending run (a gene with one experiment, or consecutive ones): a
            # slice lets dask read just those experiments instead of their whole chunk
            return IndexSelResult({self.dim: slice(int(positions[0]), int(positions[-1]) + 1)})
        return IndexSelResult({self.dim: positions})

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

        Examples
        --------
        >>> index = GeneIndex.from_table([1, 2, 3], ["A", "B", "A"])
        >>> index.positions(["A", "B"]).tolist()
        [0, 2, 1]
        """
        if isinstance(genes, Variable) or hasattr(genes, "variable"):
            genes = np.asarray(genes)
        wanted = np.asarray(genes, dtype=object).reshape(-1)
        if self._lookup is None:
            self._lookup = pd.Index(self._genes, dtype=object)
        found = [self._positions(value) for value in wanted]
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)

    def _positions(self, value: Hashable) -> np.ndarray:
        try:
            loc = self._lookup.get_loc(value)
        except (KeyError, TypeError):
            raise KeyError(unknown_gene_message(value, self._lookup.unique())) from None
        return np.arange(len(self._genes), dtype=np.int64)[loc].reshape(-1)

    # --- alignment: by experiment id, as the ExperimentIndex ------------------------------
    def equals(self, other: Index, *, exclude: frozenset[Hashable] | None = None) -> bool:
        """Same experiment ids in the same order with the same gene symbols."""
        return (
            isinstance(other, GeneIndex)
            and self._gene_name == other._gene_name
            and self._ids.equals(other._ids)
            and bool(_same_genes(self._genes, other._genes).all())
        )

    def join(self, other: GeneIndex, how: str = "inner") -> GeneIndex:
        """Union (``"outer"``) or intersection (``"inner"``) of the experiments, with genes."""
        _check_same_genes(self.dim, [self._pairs(), other._pairs()])
        ids = _join_ids(self._ids, other._ids, how).rename(self.dim)
        return self._replace(ids, _join_genes(ids, self._pairs(), other._pairs()))

    def reindex_like(self, other: GeneIndex, method=None, tolerance=None) -> dict[Hashable, Any]:
        """Positions of ``other``'s experiments here (-1 where missing); ids match exactly."""
        _check_same_genes(self.dim, [self._pairs(), other._pairs()])
        return {self.dim: self._ids.get_indexer(other._ids)}

    @classmethod
    def concat(
        cls,
        indexes: Sequence[GeneIndex],
        dim: Hashable,
        positions: Iterable[Iterable[int]] | None = None,
    ) -> GeneIndex:
        """Experiments of several objects one after the other, each with its gene."""
        if not indexes:
            raise ValueError("Cannot concatenate an empty list of gene indexes.")
        plain = [PandasIndex(i._ids, dim, fastpath=True) for i in indexes]
        ids = PandasIndex.concat(plain, dim, positions).index
        genes = _concat_genes([i._genes for i in indexes], positions)
        return cls(ids, genes, indexes[0]._gene_name)

    def roll(self, shifts: Mapping[Any, int]) -> GeneIndex:
        """Roll the experiments and their genes together."""
        shift = shifts[self.dim] % (len(self._genes) or 1)
        ids = PandasIndex(self._ids, self.dim, fastpath=True).roll(shifts).index
        return self._replace(ids, np.roll(self._genes, shift))

    def rename(self, name_dict: Mapping[Any, Hashable], dims_dict: Mapping[Any, Hashable]):
        """Rename the coordinate and/or the dimension."""
        ids = self._ids.rename(dims_dict.get(self.dim, self.dim))
        return type(self)(ids, self._genes, name_dict.get(self._gene_name, self._gene_name))

    def _copy(self, deep: bool = True, memo: dict[int, Any] | None = None) -> GeneIndex:
        if not deep:
            return self._replace(self._ids, self._genes)
        return self._replace(self._ids.copy(deep=True), self._genes.copy())

    def __getitem__(self, indexer: Any) -> GeneIndex:
        return self._replace(self._ids[indexer], self._genes[indexer])

    def _repr_inline_(self, max_width: int) -> str:
        return f"GeneIndex ({len(self._genes)} experiments, {_n_genes(self._genes)} genes)"

    def __repr__(self) -> str:
        return (
            f"GeneIndex({self.dim!r}, {self._gene_name!r}: {len(self._genes)} experiments of "
            f"{_n_genes(self._genes)} genes)"
        )
