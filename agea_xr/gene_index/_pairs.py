"""The (experiment id, gene) pairs both indexes carry: checks, joins, concatenation."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from xarray import Variable

from .._choices import close_matches


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


def _n_genes(genes: np.ndarray) -> int:
    return len(pd.unique(pd.Series(genes, dtype=object).dropna()))
