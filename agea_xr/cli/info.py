"""``agea-xr info PATH``: summarise a dataset."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``info`` command."""
    p = sub.add_parser(
        "info",
        help="summarise an AGEA folder or URL",
        description="Print experiments, genes, dims, coordinate ranges (mm), variant, file "
        "sizes and data version of an AGEA dataset. Example: agea-xr info ~/agea",
    )
    p.add_argument("path", nargs="?", help="folder or fsspec URL (default: the local cache)")
    p.add_argument("--variant", choices=("raw", "processed"), default="raw")
    p.add_argument("--sample", action="store_true", help="describe the bundled sample")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary."""
    from ..api import open_dataset
    from ..sample import sample_path
    from ..summary import summarize

    source = sample_path() if args.sample else args.path
    if source is None:
        from ..fetch import cached_source

        # describe the local copy; never start a 1.4 GB download just to summarise
        source = cached_source(variant=args.variant, progress=True)
    print(summarize(open_dataset(source, variant=args.variant, chunks=None)))
    return 0
