"""``agea-xr similar`` and ``agea-xr clusters``: AGEA's similar-gene search and clusters.

``similar GENE`` ranks experiments by the spatial correlation of their maps with
a gene's (or an experiment's) map, optionally inside regions; ``clusters``
writes an expression-defined parcellation to netCDF with a three-plane picture
beside it. Both share the analyses' options (``--csv``, ``--scheduler``,
``--address``, progress on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..volumes_layout import CELL_TYPE_VARIANTS, LEVELS
from . import _options
from .analysis import _common, _compute_context, _print_table, _write_csv

__all__ = ["register", "run_clusters", "run_similar"]

#: Suffixes ``clusters -o`` writes (netCDF).
NETCDF_SUFFIXES = (".nc", ".nc4")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``similar`` and ``clusters`` commands."""
    p = sub.add_parser(
        "similar",
        help="genes whose maps look like a gene's (AGEA's similar-gene search)",
        description="Rank every experiment by the spatial correlation (Pearson or Spearman, "
        "across the voxels measured in both) between its map and the query's. Example: "
        "agea-xr similar Pdyn --region CP --sample",
    )
    p.add_argument("query", metavar="GENE", help="gene symbol or Allen experiment id")
    _common(p)
    _options.add_genes(p, help="compare with this gene's experiments only (repeatable)")
    _options.add_mapping(p, help="mapping of --region")
    p.add_argument(
        "--region",
        action="append",
        metavar="ACRONYM",
        help="correlate inside this region only (repeatable; default: the whole brain)",
    )
    p.add_argument("--hemisphere", choices=("left", "right"), help="default: both")
    p.add_argument("--method", choices=("pearson", "spearman"), default="pearson")
    p.add_argument("--per-gene", action="store_true", help="one row per gene (Fisher z mean)")
    p.add_argument(
        "--min-voxels", type=_options.count("--min-voxels"), default=10, help="default 10"
    )
    p.add_argument(
        "--top", type=_options.count("--top"), default=20, help="rows to print (default 20)"
    )
    p.add_argument(
        "--n-null",
        type=_options.positive("--n-null"),
        help="surrogate maps of the query for spatial p-values and FDR q (e.g. 1000; "
        "default none)",
    )
    p.add_argument(
        "--random-state", type=_options.count("--random-state"), help="seed of the surrogates"
    )
    p.add_argument(
        "--against",
        choices=("genes", "cell_types", "lipids"),
        default="genes",
        help="rank genes (default), MERFISH cell types or lipids by similarity to GENE's map",
    )
    items = p.add_argument_group("cell types and lipids (--against)")
    items.add_argument(
        "--level",
        choices=LEVELS,
        help="taxonomy level of --against cell_types (default subclass)",
    )
    items.add_argument(
        "--items-variant",
        choices=CELL_TYPE_VARIANTS,
        help="volumes of --against cell_types: raw (default) or processed (iblatlas' "
        "denoised proportions); --variant chooses the genes' volumes",
    )
    _options.add_min_reliability(items)
    items.add_argument(
        "--items-source",
        metavar="SOURCE",
        help="folder or URL of the cell types (merfish/) or lipids (lipids/); default: the "
        "local caches, else the IBL bucket (--anon and --endpoint-url serve it too)",
    )
    p.set_defaults(func=run_similar)

    p = sub.add_parser(
        "clusters",
        help="expression-defined parcellation (AGEA's clusters), to netCDF and a picture",
        description="Group voxels by their expression profiles across experiments (PCA, "
        "k-means micro-clusters, a hierarchical tree) and write the cluster volume to "
        "netCDF, with a coronal/sagittal/horizontal picture beside it (same name, .png). "
        "Example: agea-xr clusters --n 20 -o clusters.nc",
    )
    _options.add_source(p)
    _options.add_variant(p)
    _options.add_genes(p, help="cluster on this gene's experiments only (repeatable)")
    _options.add_mapping(p, help="mapping of --region and of the picture's boundaries")
    p.add_argument(
        "--n",
        dest="n_clusters",
        type=_options.positive("--n"),
        nargs="+",
        required=True,
        metavar="N",
        help="number of clusters; several give one level each (the picture shows the first)",
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE.nc", help="netCDF to write")
    p.add_argument(
        "--region", action="append", metavar="ACRONYM", help="cluster inside this region only"
    )
    p.add_argument("--method", choices=("ward", "average", "complete"), default="ward")
    p.add_argument(
        "--connectivity", action="store_true", help="merge spatially adjacent groups only"
    )
    p.add_argument(
        "--components",
        type=_options.positive("--components"),
        default=30,
        help="principal components kept (default 30)",
    )
    p.add_argument(
        "--random-state", type=_options.count("--random-state"), default=0, help="default 0"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--scheduler",
        choices=("threads", "processes", "synchronous", "distributed"),
        default="threads",
        help="dask scheduler (default threads; 'distributed' starts a local cluster)",
    )
    p.add_argument(
        "--address", help="address of a running dask.distributed scheduler (tcp://host:8786)"
    )
    _options.add_progress(p)
    p.set_defaults(func=run_clusters, csv=None)


def _query(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def run_similar(args: argparse.Namespace) -> int:
    """Print (and optionally write) the experiments ranked by similarity to the query."""
    from ..analysis import similar_genes

    if args.csv:
        _options.output_file(args.csv, "--csv")
    _options.check_mapping(args)
    _check_against(args)
    query = _query(args.query)
    if args.genes and isinstance(query, str) and query not in args.genes:
        args.genes = [*args.genes, query]  # the query's own map must be there
    ds = _options.open_source(args)
    if args.against != "genes":
        return _similar_items(args, ds, query)
    with _compute_context(args):
        table = similar_genes(
            ds,
            query,
            args.region,
            method=args.method,
            mapping=args.mapping,
            hemisphere=args.hemisphere,
            per_gene=args.per_gene,
            min_voxels=args.min_voxels,
            n_null=args.n_null,
            random_state=args.random_state,
        )
    _write_csv(table, args.csv)
    rows = "genes" if args.per_gene else "experiments"
    print(
        f"{len(table):,} {rows} ranked by {table.attrs['method'].capitalize()} r with "
        f"{table.attrs['query']} inside {table.attrs['mask']} "
        f"({table.attrs['query_voxels']:,} voxels measured in the query):"
    )
    _print_table(table.head(args.top))
    return 0


def _check_against(args: argparse.Namespace) -> None:
    """Refuse, before any work, an option that does not apply to ``--against``."""
    applies = {
        "--level": ("cell_types", args.level),
        "--items-variant": ("cell_types", args.items_variant),
        "--min-reliability": ("lipids", args.min_reliability),
        "--items-source": ("cell_types or lipids", args.items_source),
    }
    for option, (against, value) in applies.items():
        if value is not None and args.against not in against.split(" or "):
            raise ValueError(
                f"{option} applies to --against {against}, not to --against {args.against}: "
                f"drop it, or add --against {against.split(' or ')[0]}."
            )
    if args.per_gene and args.against != "genes":
        raise ValueError("--per-gene ranks genes: drop it with --against " + args.against)


def _similar_items(args: argparse.Namespace, ds, query: str | int) -> int:
    """``similar GENE --against cell_types|lipids``: items ranked by r with GENE's map."""
    from ..analysis.items import similar
    from ..analysis.similar import query_map

    values, words, _ = query_map(ds, query)
    level = args.level or "subclass"
    items = _options.open_items(
        args,
        args.against,
        args.items_source,
        level=level,
        variant=args.items_variant,
        min_reliability=args.min_reliability,
    )
    with _compute_context(args):
        table = similar(
            values,
            items,
            mask=args.region,
            method=args.method,
            mapping=args.mapping,
            hemisphere=args.hemisphere,
            min_voxels=args.min_voxels,
            n_null=args.n_null,
            random_state=args.random_state,
        )
    _write_csv(table, args.csv)
    what = f"{level} cell types" if args.against == "cell_types" else "lipids"
    print(
        f"{len(table):,} {what} ranked by {table.attrs['method'].capitalize()} r with "
        f"{words} inside {table.attrs['mask']}:"
    )
    _print_table(table.head(args.top))
    return 0


def _output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    out = _options.output_file(args.output, "-o")
    if out.suffix.lower() not in NETCDF_SUFFIXES:
        raise ValueError(
            f"-o {str(out)!r}: clusters are written to netCDF; give a name ending in .nc."
        )
    picture = out.with_suffix(".png")
    for path, option in ((out, "-o"), (picture, "the picture")):
        if path.exists() and not args.overwrite:
            raise FileExistsError(
                f"{option} {str(path)!r} exists: pass --overwrite to replace it, or choose "
                "another name."
            )
    return out, picture


def _picture(cluster, path: Path, mapping: str, dpi: int = 110) -> None:
    """The three-plane overview of a cluster volume (0 = not clustered, drawn grey)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from .._files import safe_write
    from ..plot import plot_overview

    level = cluster.isel(n_clusters=0) if "n_clusters" in cluster.dims else cluster
    n = int(level.max())
    shown = level.where(level > 0).astype(np.float64)
    shown.attrs = {"long_name": "expression cluster"}
    inside = np.argwhere(np.asarray(level.transpose("ml", "dv", "ap").values) > 0)
    i, j, k = np.round(inside.mean(axis=0)).astype(int) if inside.size else (0, 0, 0)
    xyz = (float(level.ml[i]), float(level.ap[k]), float(level.dv[j]))
    from matplotlib.colors import ListedColormap

    tab20 = matplotlib.colormaps["tab20"]
    cmap = ListedColormap(tab20.colors[:n]) if n <= 20 else matplotlib.colormaps["turbo"]
    cmap = cmap.resampled(max(n, 1))
    fig = plt.figure(figsize=(16.0, 5.2), layout="constrained")
    try:
        plot_overview(shown, xyz=xyz, mapping=mapping, fig=fig, cmap=cmap, vmin=0.5, vmax=n + 0.5)
        fig.suptitle(f"{n} expression clusters ({cluster.attrs.get('method', '')} tree)")
        with safe_write(path, overwrite=True) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)


def run_clusters(args: argparse.Namespace) -> int:
    """Write the cluster volume to netCDF and its three-plane picture beside it."""
    from .._files import safe_write
    from ..analysis import clusters
    from ..conventions import update_attributes

    out, picture = _output_paths(args)
    _options.check_mapping(args)
    ds = _options.open_source(args)
    levels = args.n_clusters[0] if len(args.n_clusters) == 1 else args.n_clusters
    with _compute_context(args):
        cluster = clusters(
            ds,
            levels,
            None,
            args.region,
            method=args.method,
            mapping=args.mapping,
            connectivity=args.connectivity,
            n_components=args.components,
            random_state=args.random_state,
        )
    words = " ".join(sys.argv[1:]) if sys.argv[1:2] == ["clusters"] else "clusters"
    result = update_attributes(cluster.to_dataset(), history=f"agea-xr {words}")
    with safe_write(out, overwrite=args.overwrite) as tmp:
        result.to_netcdf(tmp, format="NETCDF4")
    _picture(cluster, picture, args.mapping)
    sizes = ", ".join(str(int(c)) for c in cluster["n_clusters"].values.reshape(-1))
    first = cluster.isel(n_clusters=0) if "n_clusters" in cluster.dims else cluster
    print(
        f"wrote {sizes} clusters of {int((first.values > 0).sum()):,} voxels "
        f"({cluster.attrs['n_experiments']:,} experiments) to {out} and {picture}"
    )
    return 0
