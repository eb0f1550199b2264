"""One xarray index over ``experiment`` and ``gene``, so that gene labels follow their data.

Gene symbols repeat (one gene, several experiments) and each belongs to one
experiment. :class:`GeneIndex` indexes both coordinates together, as xarray's
multi-coordinate indexes do (the custom ``Index`` API), so every operation that
moves experiments moves their gene labels with them: ``isel``, ``sel`` (by
experiment, by gene, or both at once), ``sortby``, ``concat``, ``reindex_like``,
and alignment with any ``join`` (``xr.align``, ``xr.merge``, arithmetic).
Experiment ids are matched as a ``pandas.Index`` matches them; gene symbols
always answer with *every* experiment of the asked genes, in the order asked,
keeping the ``experiment`` dimension, and explain unknown symbols with their
closest matches.

Two limits come from xarray itself, not from this index: ``drop_sel`` takes
dimension names only (drop a gene with ``ds.sel(experiment=ds.gene != "Pdyn")``),
and ``reindex(experiment=[...])`` with plain labels cannot re-label a
multi-coordinate index (xarray raises "conflicting indexes"; use
``ds.sel(experiment=ids)`` for known ids, or ``reindex_like``/``xr.align`` with
an object that has a :class:`GeneIndex`).
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

__all__ = ["GeneIndex", "drop_gene_index", "set_gene_index", "unknown_gene_message"]

_ABSENT = object()


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


def _as_positions(indexer: Any, size: int) -> np.ndarray:
    """Integer positions of an xarray positional indexer (int, slice, array, Variable)."""
    if isinstance(indexer, Variable) or hasattr(indexer, "variable"):
        indexer = np.asarray(indexer.values)
    return np.arange(size, dtype=np.int64)[indexer].reshape(-1)


class GeneIndex(Index):
    """Index of the ``experiment`` dimension coordinate and its ``gene`` labels together.

    ``.sel(gene="Pdyn")`` returns every experiment of Pdyn (the dimension is kept
    even when there is only one; a run of consecutive experiments comes back as a
    slice, so dask reads only those); ``.sel(gene=["Pdyn", "Sst"])`` returns the
    experiments of each gene in turn; ``.sel(experiment=id)`` works as with a plain
    index; ``.sel(gene=..., experiment=...)`` checks that the experiments are of
    those genes. ``method``/``tolerance`` never apply to gene symbols or experiment
    ids, which always match exactly (they apply to the other coordinates of the same
    ``.sel``). :func:`agea_xr.open_dataset` sets it; :func:`set_gene_index` sets it
    on any object with both coordinates.

    Parameters
    ----------
    experiments : xarray.indexes.PandasIndex
        Index of the experiment ids (the dimension coordinate).
    genes : numpy.ndarray of object
        One gene symbol per experiment.
    gene_name : hashable, default "gene"
        Name of the gene coordinate.
    """

    def __init__(self, experiments: PandasIndex, genes: np.ndarray, gene_name: Hashable = "gene"):
        genes = np.asarray(genes, dtype=object).reshape(-1)
        if genes.size != len(experiments.index):
            raise ValueError(
                f"{genes.size} gene symbols for {len(experiments.index)} experiments: "
                "each experiment needs exactly one gene symbol."
            )
        genes.flags.writeable = False
        self._experiments = experiments
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
        >>> import xarray as xr
        >>> index = GeneIndex.from_table([71717084, 74272479], ["Pdyn", "Nrp1"])
        >>> coords = xr.Coordinates.from_xindex(index)
        >>> xr.Dataset(coords=coords).sel(gene="Nrp1").experiment.values.tolist()
        [74272479]
        """
        ids = np.asarray(experiments)
        index = PandasIndex(pd.Index(ids, name=dim), dim, coord_dtype=ids.dtype)
        return cls(index, np.asarray(genes, dtype=object), gene_name)

    @classmethod
    def from_variables(cls, variables: Mapping[Any, Variable], *, options: Mapping[str, Any]):
        """Build from the ``experiment`` and ``gene`` coordinates (``Dataset.set_xindex``).

        Raises
        ------
        ValueError
            Unless given one 1-D dimension coordinate and one 1-D coordinate along it.
        """
        dims = {var.dims for var in variables.values()}
        dim = next(iter(dims))[0] if len(dims) == 1 and len(next(iter(dims))) == 1 else None
        others = [name for name in variables if name != dim]
        if len(variables) != 2 or dim is None or dim not in variables or len(others) != 1:
            raise ValueError(
                f"GeneIndex indexes the experiment dimension coordinate and the gene symbols "
                f"along it together; got {list(variables)}. Use "
                "agea_xr.gene_index.set_gene_index(obj) or "
                "obj.drop_indexes('experiment').set_xindex(['experiment', 'gene'], GeneIndex)."
            )
        experiments = PandasIndex.from_variables({dim: variables[dim]}, options={})
        return cls(experiments, np.asarray(variables[others[0]].values, dtype=object), others[0])

    def _replace(self, experiments: PandasIndex, genes: np.ndarray) -> GeneIndex:
        return type(self)(experiments, genes, self._gene_name)

    # --- what xarray asks ----------------------------------------------------------
    @property
    def dim(self) -> Hashable:
        """The dimension the index runs along (``"experiment"``)."""
        return self._experiments.dim

    @property
    def genes(self) -> np.ndarray:
        """The gene symbol of each experiment (read-only object array)."""
        return self._genes

    def create_variables(self, variables: Mapping[Any, Variable] | None = None):
        """The ``experiment`` and ``gene`` coordinate variables (attributes kept)."""
        from xarray.core.indexing import PandasIndexingAdapter
        from xarray.core.variable import IndexVariable

        out = dict(self._experiments.create_variables(variables))
        old = (variables or {}).get(self._gene_name)
        data = PandasIndexingAdapter(pd.Index(self._genes, dtype=object), dtype=np.dtype("O"))
        out[self._gene_name] = IndexVariable(
            self.dim,
            data,
            attrs=None if old is None else old.attrs,
            encoding=None if old is None else old.encoding,
            fastpath=True,
        )
        return out

    def to_pandas_index(self) -> pd.Index:
        """The experiment ids as a ``pandas.Index``."""
        return self._experiments.index

    def isel(self, indexers: Mapping[Any, Any]) -> GeneIndex | None:
        """Keep the experiments at these positions (None, dropping the index, for a scalar)."""
        experiments = self._experiments.isel(indexers)
        if experiments is None:
            return None
        if experiments is self._experiments:
            return self
        indexer = indexers[self.dim]
        if isinstance(indexer, Variable):
            indexer = indexer.data
        return self._replace(experiments, self._genes[indexer])

    def sel(self, labels: dict[Any, Any], method=None, tolerance=None) -> IndexSelResult:
        """Positions of experiments by id, by gene symbol, or both.

        Parameters
        ----------
        labels : dict
            ``{"gene": symbol(s)}``, ``{"experiment": id(s)}`` or both.
        method, tolerance : optional
            Ignored: ids and symbols match exactly (they are for other coordinates).

        Returns
        -------
        IndexSelResult

        Raises
        ------
        KeyError
            For an unknown symbol (with the closest matches) or id, or for an
            experiment that is not of the asked gene(s).
        ValueError
            For a slice of gene symbols.
        """
        exp_label = labels.get(self.dim, _ABSENT)
        gene_label = labels.get(self._gene_name, _ABSENT)
        if exp_label is not _ABSENT:
            result = self._select_experiments(exp_label)
            if gene_label is _ABSENT:
                return result
        if isinstance(gene_label, slice):
            raise ValueError(
                f"Cannot select genes with the slice {gene_label!r}: gene symbols have no "
                "order. Pass one symbol or a list of symbols."
            )
        positions = self.positions(gene_label)
        if exp_label is _ABSENT:
            if positions.size and np.array_equal(
                positions, np.arange(positions[0], positions[-1] + 1)
            ):
                # one ascending run (a gene with one experiment, or consecutive ones): a
                # slice lets dask read just those experiments instead of their whole chunk
                return IndexSelResult({self.dim: slice(int(positions[0]), int(positions[-1]) + 1)})
            return IndexSelResult({self.dim: positions})
        chosen = _as_positions(result.dim_indexers[self.dim], len(self._genes))
        wrong = chosen[~np.isin(chosen, positions)]
        if wrong.size:
            ids = self._experiments.index.to_numpy()
            listed = ", ".join(f"{ids[p]} ({self._genes[p]})" for p in wrong[:5])
            raise KeyError(
                f"Experiment(s) {listed} are not of gene {gene_label!r}: selecting by gene and "
                "by experiment together keeps experiments of those genes only. Drop one of "
                "the two, or see ds.agea.genes() for each gene's experiments."
            )
        return result

    def _select_experiments(self, label: Any) -> IndexSelResult:
        try:
            return self._experiments.sel({self.dim: label})
        except KeyError:
            if isinstance(label, slice):
                raise
            wanted = np.asarray(getattr(label, "values", label)).reshape(-1)
            known = self._experiments.index
            missing = [v for v in wanted.tolist() if v not in known]
            raise KeyError(
                f"Experiment id(s) {missing[:5]!r} not in this dataset ({len(known)} "
                f"experiments): ids are Allen SectionDataSet ids, listed by "
                f"ds.{self.dim}.values; select by gene with .sel(gene=...)."
            ) from None

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

    # --- alignment ---------------------------------------------------------------------
    def equals(self, other: Index, *, exclude: frozenset[Hashable] | None = None) -> bool:
        """Same experiment ids in the same order with the same gene symbols."""
        return (
            isinstance(other, GeneIndex)
            and self._gene_name == other._gene_name
            and self._experiments.equals(other._experiments)
            and pd.Index(self._genes, dtype=object).equals(pd.Index(other._genes, dtype=object))
        )

    def _check_same_genes(self, other: GeneIndex) -> None:
        """Refuse to align objects whose common experiments carry different genes."""
        for index in (self, other):
            if not index._experiments.index.is_unique:
                raise ValueError(
                    f"cannot reindex or align along dimension {self.dim!r} because the "
                    "experiment ids repeat (e.g. after concatenating a dataset with itself): "
                    "select unique experiments first."
                )
        where = self._experiments.index.get_indexer(other._experiments.index)
        common = where >= 0
        ours, theirs = self._genes[where[common]], other._genes[common]
        differ = (ours != theirs) & ~(pd.isna(ours) & pd.isna(theirs))  # NaN: no gene known
        if differ.any():
            ids = other._experiments.index.to_numpy()[common][differ]
            listed = ", ".join(
                f"{i}: {a!r} vs {b!r}"
                for i, a, b in zip(ids[:5], ours[differ][:5], theirs[differ][:5], strict=True)
            )
            raise ValueError(
                f"The same experiment carries different gene symbols in the objects aligned "
                f"({listed}): their data cannot be matched. Check where the gene labels come "
                "from (an export of another release?)."
            )

    def join(self, other: GeneIndex, how: str = "inner") -> GeneIndex:
        """Union (``"outer"``) or intersection (``"inner"``) of the experiments, with genes."""
        self._check_same_genes(other)
        experiments = self._experiments.join(other._experiments, how=how)
        ids = experiments.index
        genes = np.empty(len(ids), dtype=object)
        mine = self._experiments.index.get_indexer(ids)
        theirs = other._experiments.index.get_indexer(ids)
        genes[theirs >= 0] = other._genes[theirs[theirs >= 0]]
        genes[mine >= 0] = self._genes[mine[mine >= 0]]
        return self._replace(experiments, genes)

    def reindex_like(self, other: GeneIndex, method=None, tolerance=None) -> dict[Hashable, Any]:
        """Positions of ``other``'s experiments here (-1 where missing); ids match exactly."""
        self._check_same_genes(other)
        return self._experiments.reindex_like(other._experiments)

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
        experiments = PandasIndex.concat([i._experiments for i in indexes], dim, positions)
        genes = np.concatenate([i._genes for i in indexes])
        if positions is not None:
            order = np.concatenate([np.asarray(p, dtype=np.int64) for p in positions])
            placed = np.empty_like(genes)
            placed[order] = genes
            genes = placed
        return cls(experiments, genes, indexes[0]._gene_name)

    def roll(self, shifts: Mapping[Any, int]) -> GeneIndex:
        """Roll the experiments and their genes together."""
        shift = shifts[self.dim] % (len(self._genes) or 1)
        return self._replace(self._experiments.roll(shifts), np.roll(self._genes, shift))

    def rename(self, name_dict: Mapping[Any, Hashable], dims_dict: Mapping[Any, Hashable]):
        """Rename the coordinates and/or the dimension."""
        experiments = self._experiments.rename(name_dict, dims_dict)
        gene_name = name_dict.get(self._gene_name, self._gene_name)
        return type(self)(experiments, self._genes, gene_name)

    def _copy(self, deep: bool = True, memo: dict[int, Any] | None = None) -> GeneIndex:
        genes = self._genes.copy() if deep else self._genes
        return self._replace(self._experiments._copy(deep=deep), genes)

    def __getitem__(self, indexer: Any) -> GeneIndex:
        return self._replace(self._experiments[indexer], self._genes[indexer])

    def _repr_inline_(self, max_width: int) -> str:
        return f"GeneIndex ({len(self._genes)} experiments, {len(set(self._genes))} genes)"

    def __repr__(self) -> str:
        return (
            f"GeneIndex({self.dim!r}, {self._gene_name!r}: {len(self._genes)} experiments of "
            f"{len(set(self._genes))} genes)"
        )


def set_gene_index(obj, dim: Hashable = "experiment", gene: Hashable = "gene"):
    """``obj`` with a :class:`GeneIndex` over its ``experiment`` and ``gene`` coordinates.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        With a ``dim`` dimension coordinate and a ``gene`` coordinate along it.
    dim, gene : hashable
        Names of the two coordinates.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        ``obj`` itself when it already has the index, else a new object.

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
    if isinstance(obj.xindexes.get(gene), GeneIndex):
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
    return obj.set_xindex([dim, gene], GeneIndex)


def drop_gene_index(obj, dim: Hashable = "experiment"):
    """``obj`` with a plain pandas index on ``experiment`` instead of a :class:`GeneIndex`.

    What file writers and code that re-assigns ``gene`` need; the ``gene``
    coordinate is kept, unindexed. Objects without a GeneIndex are returned as is.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
    dim : hashable, default "experiment"

    Returns
    -------
    xarray.Dataset or xarray.DataArray
    """
    index = obj.xindexes.get(dim)
    if not isinstance(index, GeneIndex):
        return obj
    return obj.drop_indexes([dim, index._gene_name]).set_xindex(dim)
