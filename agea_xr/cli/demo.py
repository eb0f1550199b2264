"""``agea-xr demo``: the main job on the bundled real sample, offline, in seconds.

Prints the summary and the top regions of a gene, and writes a PNG slice of it
and a small netCDF export of it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser(
        "demo",
        help="run the offline demo on the bundled Allen sample",
        description="Open the bundled sample (Allen Pdyn and Nrp1), print its summary and "
        "the 10 Beryl regions with the highest mean Pdyn expression, and draw a coronal "
        "slice of Pdyn where they express it most, with region boundaries, to a PNG, and "
        "export Pdyn to a small netCDF file.",
    )
    p.add_argument("--gene", default="Pdyn", help="gene to rank regions by (default Pdyn)")
    p.add_argument("--top", type=int, default=10, help="how many regions (default 10)")
    p.add_argument(
        "--out-dir",
        default=".",
        help="folder of the outputs agea-demo-GENE.png and agea-demo-GENE.nc "
        "(default: the current folder)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from ..api import open_sample
    from ..demo import top_regions
    from ..summary import summarize
    from .plot import save_slice

    ds = open_sample()
    print(summarize(ds))
    print()
    table = top_regions(ds, args.gene, mapping="Beryl", n=args.top)
    print(
        f"Top {len(table)} Beryl regions by mean {args.gene} expression energy "
        "(measured voxels only; data: Allen Institute):"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if len(table):
        ap = _brightest_coronal_plane(ds, args.gene, table["id"].tolist())
        path = save_slice(
            ds, args.gene, Path(args.out_dir) / f"agea-demo-{args.gene}.png", ap=ap, dpi=120
        )
        print()
        print(
            f"Coronal slice of {args.gene} at AP {ap * 1e3:+.2f} mm (where these regions "
            f"express it most), with Beryl region boundaries: {path}"
        )
    # --- a small netCDF export of the sample (export.py) ---
    print()
    try:
        exported = _export_gene(ds, args.gene, Path(args.out_dir))
    except ImportError as err:  # a core install has no netCDF writer: say how to get one
        print(f"netCDF export skipped: {err}")
    else:
        print(
            f"netCDF export of {args.gene} (float32, lossless, with label and citation; "
            f"reopen with agea_xr.open_export or xarray.open_dataset): {exported}"
        )
    return 0


def _brightest_coronal_plane(ds, gene: str, region_ids: list[int]) -> float:
    """AP (metres) of the coronal plane with the most expression inside the regions."""
    import numpy as np

    from ..genes import gene as gene_volume
    from ..regions import region_mask

    inside = gene_volume(ds, gene).where(region_mask(ds, region_ids, mapping="Beryl"))
    per_plane = np.asarray(inside.sum(["ml", "dv"], skipna=True).values)
    return float(ds["ap"].values[int(np.argmax(per_plane))])


def _export_gene(ds, gene: str, out_dir: Path) -> Path:
    """Write the experiments of one gene to ``agea-demo-GENE.nc`` (replacing an old one)."""
    from ..export import export

    return export(ds, out_dir / f"agea-demo-{gene}.nc", genes=gene, overwrite=True)
