"""``agea-xr demo``: the main job on the bundled real sample, offline, in seconds."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser(
        "demo",
        help="run the offline demo on the bundled Allen sample",
        description="Open the bundled sample (Allen Pdyn and Nrp1), print its summary and "
        "the 10 Beryl regions with the highest mean Pdyn expression.",
    )
    p.add_argument("--gene", default="Pdyn", help="gene to rank regions by (default Pdyn)")
    p.add_argument("--top", type=int, default=10, help="how many regions (default 10)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from ..demo import top_regions
    from ..sample import open_sample
    from ..summary import summarize

    ds = open_sample()
    print(summarize(ds))
    print()
    table = top_regions(ds, args.gene, mapping="Beryl", n=args.top)
    print(
        f"Top {len(table)} Beryl regions by mean {args.gene} expression energy "
        "(measured voxels only; data: Allen Institute):"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
