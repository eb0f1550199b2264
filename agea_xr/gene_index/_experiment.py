"""The index on ``experiment``: a PandasIndex that moves each id's gene with it."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
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
