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
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from xarray import Variable
from xarray.core.indexes import Index, PandasIndex
from xarray.core.indexing import IndexSelResult

from ._choices import close_matches

__all__ = [
    "ExperimentIndex",
    "GeneIndex",
    "drop_gene_index",
    "set_gene_index",
    "unknown_gene_message",
]


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

    Examples
    --------
    >>> unknown_gene_message("pdyn", ["Pdyn", "Nrp1"]).split(". ")[:2]
    ["Gene 'pdyn' is not in this dataset", 'Closest matches: Pdyn']
    """
    matches = close_matches(str(value), choices)
    hint = f" Closest matches: {', '.join(matches)}." if matches else ""
    return (
        f"Gene {value!r} is not in this dataset.{hint} Gene symbols are case-sensitive "
        "(MGI symbols, e.g. 'Pdyn'); list them with ds.gene.values or search with "
        "ds.agea.search_genes(...)."
    )


# --- the (id, gene) pairs both indexes carry ----------------------------------------------
def _frozen(genes: Any) -> np.ndarray:
    genes = np.array(genes, dtype=object).reshape(-1)
    genes.flags.writeable = False
    return genes


def _positional(indexer: Any, dim: Hashable) -> Any:
    """A positional indexer as numpy/int/slice (None when it would change dimensions)."""
    if isinstance(indexer, Variable) or hasattr(indexer, "variable"):
        if indexer.ndim and indexer.dims != (dim,):
            return None
        return indexer.data
    return indexer


def _same_genes(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    return (ours == theirs) | (pd.isna(ours) & pd.isna(theirs))  # NaN: no gene known


def _check_same_genes(dim: Hashable, pairs: Sequence[tuple[pd.Index, np.ndarray]]) -> None:
    """Refuse to align objects whose common experiments carry different genes."""
    for ids, _ in pairs:
        if not ids.is_unique:
            raise ValueError(
                f"cannot reindex or align along dimension {dim!r} because the experiment "
                "ids repeat (e.g. after concatenating a dataset with itself): select unique "
                "experiments first."
            )
    (ids_a, genes_a), (ids_b, genes_b) = pairs
    where = ids_a.get_indexer(ids_b)
    common = where >= 0
    ours, theirs = genes_a[where[common]], genes_b[common]
    differ = ~_same_genes(ours, theirs)
    if differ.any():
        bad = ids_b.to_numpy()[common][differ]
        listed = ", ".join(
            f"{i}: {a!r} vs {b!r}"
            for i, a, b in zip(bad[:5], ours[differ][:5], theirs[differ][:5], strict=True)
        )
        raise ValueError(
            f"The same experiment carries different gene symbols in the objects aligned "
            f"({listed}): their data cannot be matched. Check where the gene labels come "
            "from (an export of another release?)."
        )


def _join_ids(ids_a: pd.Index, ids_b: pd.Index, how: str) -> pd.Index:
    """Union (sorted, as pandas) or intersection of ids, both indexes the same way.

    An intersection that is all of one object keeps that object's order, so an
    object indexed by experiment only (its ``gene`` dropped) aligned with a
    reordered selection that has genes leaves the selection's genes in place.
    """
    if how == "outer":
        return ids_a.union(ids_b)
    common = ids_a.intersection(ids_b)
    return ids_b if len(common) == len(ids_b) else common


def _join_genes(ids: pd.Index, a: tuple[pd.Index, np.ndarray], b: tuple[pd.Index, np.ndarray]):
    """The gene of each of ``ids``, taken from the pairs ``a`` or ``b``."""
    genes = np.full(len(ids), np.nan, dtype=object)
    for known, symbols in (b, a):  # a wins (they agree where both know the id)
        where = known.get_indexer(ids)
        genes[where >= 0] = symbols[where[where >= 0]]
    return genes


def _concat_genes(genes: Sequence[np.ndarray], positions) -> np.ndarray:
    out = np.concatenate(genes) if genes else np.empty(0, dtype=object)
    if positions is not None:
        order = np.concatenate([np.asarray(p, dtype=np.int64) for p in positions])
        placed = np.empty_like(out)
        placed[order] = out
        out = placed
    return out


def _check_lengths(n_ids: int, genes: np.ndarray) -> None:
    if genes.size != n_ids:
        raise ValueError(
            f"{genes.size} gene symbols for {n_ids} experiments: each experiment needs "
            "exactly one gene symbol."
        )


class ExperimentIndex(PandasIndex):
    """Index of the ``experiment`` dimension coordinate that knows each experiment's gene.

    A ``pandas.Index`` of Allen experiment ids, as xarray's default index, plus the
    gene symbol of each id: every operation that moves experiments (``isel``,
    ``sortby``, ``roll``, ``concat``, ``reindex_like``, alignment with any
    ``join``) moves the genes too, and the :class:`GeneIndex` on ``gene`` gives the
    same positions. Aligning objects whose common ids carry different genes raises
    ValueError. Ids always match exactly: ``method``/``tolerance`` of a ``.sel``
    apply to the other coordinates only. Set by :func:`set_gene_index`.

    Parameters
    ----------
    array : array-like of int
        Experiment ids.
    dim : hashable
        The dimension (``"experiment"``).
    coord_dtype : numpy.dtype, optional
    genes : array-like of str
        One gene symbol per id (NaN where unknown).
    """

    def __init__(self, array, dim, coord_dtype=None, *, fastpath=False, genes=None):
        super().__init__(array, dim, coord_dtype, fastpath=fastpath)
        if genes is None:
            raise ValueError(
                "An ExperimentIndex needs the gene symbol of each experiment: set it with "
                "agea_xr.gene_index.set_gene_index(obj)."
            )
        genes = _frozen(genes)
        _check_lengths(len(self.index), genes)
        self._genes = genes

    @property
    def genes(self) -> np.ndarray:
        """The gene symbol of each experiment (read-only object array)."""
        return self._genes

    def _pairs(self) -> tuple[pd.Index, np.ndarray]:
        return self.index, self._genes

    def _replace(self, index, dim=None, coord_dtype=None, genes=None):
        if genes is None:
            if len(index) != len(self._genes):  # only renames keep the genes as they are
                raise RuntimeError("ExperimentIndex: genes must follow a change of the ids")
            genes = self._genes
        return type(self)(
            index,
            self.dim if dim is None else dim,
            self.coord_dtype if coord_dtype is None else coord_dtype,
            fastpath=True,
            genes=genes,
        )

    @classmethod
    def from_variables(cls, variables: Mapping[Any, Variable], *, options: Mapping[str, Any]):
        """Build from the ``experiment`` coordinate and ``options["genes"]``.

        Raises
        ------
        ValueError
            Without ``genes`` (use :func:`set_gene_index`) or for a wrong number of them.
        """
        if "genes" not in options:
            raise ValueError(
                "ExperimentIndex needs the gene symbol of each experiment: use "
                "agea_xr.gene_index.set_gene_index(obj)."
            )
        plain = PandasIndex.from_variables(variables, options={})
        return cls(
            plain.index, plain.dim, plain.coord_dtype, fastpath=True, genes=options["genes"]
        )

    def isel(self, indexers):
        """Keep the experiments (and their genes) at these positions; None for a scalar."""
        indexer = _positional(indexers[self.dim], self.dim)
        if indexer is None or (not isinstance(indexer, slice) and np.ndim(indexer) == 0):
            return None
        if isinstance(indexer, slice) and indexer == slice(None):
            return self
        return self._replace(self.index[indexer], genes=self._genes[indexer])

    def sel(self, labels: dict[Any, Any], method=None, tolerance=None) -> IndexSelResult:
        """Positions of experiment ids (exact match; ``method``/``tolerance`` ignored).

        Raises
        ------
        KeyError
            For an id not in the index, naming it.
        """
        (label,) = labels.values()
        try:
            return super().sel(labels)
        except KeyError:
            if isinstance(label, slice):
                raise
            wanted = np.asarray(getattr(label, "values", label)).reshape(-1)
            missing = [v for v in wanted.tolist() if v not in self.index]
            raise KeyError(
                f"Experiment id(s) {missing[:5]!r} not in this dataset ({len(self.index)} "
                f"experiments): ids are Allen SectionDataSet ids, listed by "
                f"ds.{self.dim}.values; select by gene with .sel(gene=...)."
            ) from None

    def equals(self, other: Index, *, exclude: frozenset[Hashable] | None = None) -> bool:
        """Same ids in the same order, with the same genes."""
        return (
            isinstance(other, ExperimentIndex)
            and super().equals(other)
            and bool(_same_genes(self._genes, other._genes).all())
        )

    def join(self, other: ExperimentIndex, how: str = "inner") -> ExperimentIndex:
        """Union (``"outer"``) or intersection (``"inner"``) of the ids, with their genes."""
        _check_same_genes(self.dim, [self._pairs(), other._pairs()])
        ids = _join_ids(self.index, other.index, how).rename(self.index.name)
        genes = _join_genes(ids, self._pairs(), other._pairs())
        dtype = np.result_type(self.coord_dtype, other.coord_dtype)
        return type(self)(ids, self.dim, dtype, fastpath=True, genes=genes)

    def _plain(self) -> PandasIndex:
        return PandasIndex(self.index, self.dim, self.coord_dtype, fastpath=True)

    def reindex_like(self, other: ExperimentIndex, method=None, tolerance=None):
        """Positions of ``other``'s ids here (-1 where missing); ids match exactly."""
        if isinstance(other, ExperimentIndex):
            _check_same_genes(self.dim, [self._pairs(), other._pairs()])
        return super().reindex_like(other)

    @classmethod
    def concat(cls, indexes, dim, positions=None):
        """Experiments of several objects one after the other, each with its gene."""
        ids = PandasIndex.concat([i._plain() for i in indexes], dim, positions)
        genes = _concat_genes([i._genes for i in indexes], positions)
        return cls(ids.index, dim, ids.coord_dtype, fastpath=True, genes=genes)

    def roll(self, shifts: Mapping[Any, int]) -> ExperimentIndex:
        """Roll the ids and their genes together."""
        shift = shifts[self.dim] % (len(self._genes) or 1)
        return self._replace(self._plain().roll(shifts).index, genes=np.roll(self._genes, shift))

    def _copy(self, deep: bool = True, memo: dict[int, Any] | None = None):
        index = self.index.copy(deep=True) if deep else self.index
        return self._replace(index, genes=self._genes.copy() if deep else self._genes)

    def __getitem__(self, indexer: Any):
        return self._replace(self.index[indexer], genes=self._genes[indexer])

    def __repr__(self) -> str:
        return f"ExperimentIndex({len(self._genes)} experiments of {_n_genes(self._genes)} genes)"


def _n_genes(genes: np.ndarray) -> int:
    return len(pd.unique(pd.Series(genes, dtype=object).dropna()))


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
