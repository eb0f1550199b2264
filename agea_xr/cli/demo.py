"""``agea-xr demo``: the main job on the bundled real sample, offline, in seconds.

Prints the summary and the top regions of a gene, and writes a PNG slice of it
and a small netCDF export of it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _options

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
    _options.add_genes(p, help="the gene to rank regions by (default Pdyn; one)")
    p.add_argument(
        "--top", type=_options.count("--top"), default=10, help="how many regions (default 10)"
    )
    _options.add_mapping(p, help="region level of the ranking and the boundaries")
    p.add_argument(
        "--out-dir",
        default=".",
        help="folder of the outputs agea-demo-GENE.png and agea-demo-GENE.nc, created if "
        "missing (default: the current folder)",
    )
    _options.add_source(
        p,
        sample=False,
        help="run the demo on this release folder, URL or export instead of the bundled sample",
    )
    _options.add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from ..demo import top_regions
    from ..summary import summarize
    from .plot import save_slice

    genes = args.genes or ["Pdyn"]
    if len(set(genes)) > 1:
        raise ValueError(
            f"The demo ranks the regions of one gene, got {len(set(genes))} ({', '.join(genes)}): "
            "give --gene once, or use `agea-xr regions --gene G --gene H`."
        )
    gene, mapping = genes[0], args.mapping
    out_dir = _options.output_folder(args.out_dir, "--out-dir")  # before any work
    _options.check_mapping(args)
    args.sample = args.source is None  # the bundled sample unless --source is given
    ds = _options.open_source(args)
    print(summarize(ds))
    print()
    table = top_regions(ds, gene, mapping=mapping, n=args.top)
    print(
        f"Top {len(table)} {mapping} regions by mean {gene} expression energy "
        "(measured voxels only; data: Allen Institute):"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if len(table):
        ap = _brightest_coronal_plane(ds, gene, table["id"].tolist(), mapping)
        path = save_slice(ds, gene, out_dir / f"agea-demo-{gene}.png", ap=ap, dpi=120)
        print()
        print(
            f"Coronal slice of {gene} at AP {ap * 1e3:+.2f} mm (where these regions "
            f"express it most), with {mapping} region boundaries: {path}"
        )
    # --- a small netCDF export of the sample (export.py) ---
    print()
    try:
        exported = _export_gene(ds, gene, out_dir, args.progress)
    except ImportError as err:  # a core install has no netCDF writer: say how to get one
        print(f"netCDF export skipped: {err}")
    else:
        print(
            f"netCDF export of {gene} (float32, lossless, with label and citation; "
            f"reopen with agea_xr.open_export or xarray.open_dataset): {exported}"
        )
    return 0


def _brightest_coronal_plane(ds, gene: str, region_ids: list[int], mapping: str) -> float:
    """AP (metres) of the coronal plane with the most expression inside the regions."""
    import numpy as np

    from ..genes import gene as gene_volume
    from ..regions import region_mask

    inside = gene_volume(ds, gene).where(region_mask(ds, region_ids, mapping=mapping))
    per_plane = np.asarray(inside.sum(["ml", "dv"], skipna=True).values)
    return float(ds["ap"].values[int(np.argmax(per_plane))])


def _export_gene(ds, gene: str, out_dir: Path, progress: bool) -> Path:
    """Write the experiments of one gene to ``agea-demo-GENE.nc`` (replacing an old one)."""
    from ..export import export

    return export(
        ds, out_dir / f"agea-demo-{gene}.nc", genes=gene, overwrite=True, progress=progress
    )
