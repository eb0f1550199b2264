"""``agea-xr genes [PATTERN]``: list the genes of a dataset, or search them."""

from __future__ import annotations

import argparse
import sys

from . import _options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``genes`` command."""
    p = sub.add_parser(
        "genes",
        help="list the genes and their experiments, or search them by part of a symbol",
        description="Print one line per gene symbol: the symbol, how many experiments "
        "measured it and their Allen ids. With PATTERN, only the symbols that contain it "
        "(case-insensitive): an exact match first, then those starting with it, then the "
        "others. Exit code 1 when nothing matches. Without --source, the local cache (never "
        "downloaded for this). Example: agea-xr genes slc17 --sample",
    )
    p.add_argument("pattern", nargs="?", metavar="PATTERN", help="part of a gene symbol")
    _options.add_source(p)
    _options.add_variant(p)
    _options.add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the gene table (or the matches of the pattern)."""
    from .._choices import close_matches
    from ..genes import genes, search_genes

    ds = _options.open_source(args, chunks=None, cached_only=True)
    table = genes(ds)
    if args.pattern is not None:
        found = search_genes(ds, args.pattern)
        if not found:
            near = close_matches(args.pattern, table["gene"].astype(str), n=5)
            hint = f" Closest symbols: {', '.join(near)}." if near else ""
            print(
                f"No gene symbol contains {args.pattern!r} (of {len(table):,} genes).{hint}",
                file=sys.stderr,
            )
            return 1
        table = table.set_index("gene").loc[found].reset_index()
    width = max([4, *(len(str(g)) for g in table["gene"])])
    print(f"{'gene':<{width}}  experiments  ids")
    for gene, ids, n in table[["gene", "experiments", "n_experiments"]].itertuples(index=False):
        print(f"{gene:<{width}}  {n:>11}  {' '.join(map(str, ids))}")
    return 0
