"""``agea-xr decode``: which genes are expressed in the pattern of your own map."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import _options
from .analysis import _common, _compute_context, _open, _print_table, _write_csv

__all__ = ["register", "run_decode"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``decode`` command."""
    p = sub.add_parser(
        "decode",
        help="genes matching your own map (NIfTI, NRRD, MetaImage, OME-Zarr, TIFF, .npy)",
        description="Read MAP_FILE (a volume in the Allen CCFv3) onto the AGEA 200 um grid, "
        "then rank every experiment by its spatial correlation with it (a boolean map: by "
        "its enrichment there, as 'find'), and the regions by the map's mean. Example: "
        "agea-xr decode effect_25um.nii.gz --sample --mask STR",
    )
    p.add_argument(
        "map_file",
        metavar="MAP_FILE",
        help="the map (.nii/.nii.gz, .nrrd, .mhd, .ome.zarr, .tif, .npy)",
    )
    _common(p)
    p.add_argument(
        "--mask",
        action="append",
        metavar="REGION",
        help="compare within this region (repeatable; a boolean map: the contrast)",
    )
    _options.add_mapping(p)
    p.add_argument("--kind", choices=("continuous", "mask"), help="default: from the data")
    p.add_argument("--resolution-um", type=float, help="voxel size of a TIFF or .npy map (um)")
    p.add_argument(
        "--orientation", help="brainglobe-space letters of the map's axes (e.g. asl, asr)"
    )
    p.add_argument("--method", choices=("pearson", "spearman"), default="pearson")
    p.add_argument("--per-gene", action="store_true", help="one row per gene")
    p.add_argument(
        "--min-voxels", type=_options.count("--min-voxels"), default=10, help="default 10"
    )
    p.add_argument(
        "--top", type=_options.count("--top"), default=20, help="rows to print (default 20)"
    )
    p.add_argument(
        "--n-null",
        type=_options.positive("--n-null"),
        help="surrogate maps for spatial p-values and FDR q (e.g. 1000; default none)",
    )
    p.add_argument(
        "--random-state", type=_options.count("--random-state"), help="seed of the surrogates"
    )
    p.set_defaults(func=run_decode)


def run_decode(args: argparse.Namespace) -> int:
    """Print the best-matching experiments and the regions the map holds."""
    from ..analysis.decode import decode

    path = Path(args.map_file)
    if not path.exists():
        raise FileNotFoundError(f"MAP_FILE {str(path)!r} does not exist: check the path.")
    ds = _open(args)
    with _compute_context(args):
        found = decode(
            ds,
            path,
            list(args.mask) if args.mask else None,
            kind=args.kind,
            resolution_um=args.resolution_um,
            orientation=args.orientation,
            method=args.method,
            mapping=args.mapping,
            per_gene=args.per_gene,
            min_voxels=args.min_voxels,
            n_null=args.n_null,
            random_state=args.random_state,
        )
    _write_csv(found.genes, args.csv)
    grid = found.map
    print(
        f"{path.name}: placed by {grid.attrs.get('placed_by')}, "
        f"{grid.attrs.get('resampling')}; "
        f"{int((grid.coverage > 0).sum()):,} voxels of the grid covered.",
        file=sys.stderr,
    )
    how = "enrichment (gene finder)" if grid.dtype == bool else f"{args.method} r"
    print(f"Experiments ranked by {how}; top {min(args.top, len(found.genes))}:")
    _print_table(found.genes.head(args.top))
    print(f"Regions ({args.mapping}) ranked by the map's mean; top 10:")
    _print_table(found.regions.head(10)[["rank", "acronym", "name", "mean", "measured"]])
    return 0
