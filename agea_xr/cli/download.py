"""``agea-xr download``: fill the local cache with the release, verified.

The genes (the AGEA release), the MERFISH cell types of the levels asked for
(``--cell-types LEVEL``, repeatable) and the lipids (``--lipids``), as
:func:`agea_xr.download` fetches them; one report per folder.
"""

from __future__ import annotations

import argparse

from ..volumes_layout import LEVELS
from . import _options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``download`` command."""
    p = sub.add_parser(
        "download",
        help="download the release into the local cache (verified, resumable)",
        description="Download the AGEA release (the table, label.npy, image.npy and one "
        "binary) into the local cache, verify it and record it in the cache manifest; say "
        "whether the cache was already current. --cell-types LEVEL and --lipids fetch the "
        "MERFISH cell types of that level and the lipid volumes instead (into merfish/ and "
        "lipids/ of the cache, with the grid label in agea/; --with-genes: the genes too). "
        "An interrupted download resumes. --check re-hashes the cached files first; "
        "--check --offline does only that, without the network. Examples: agea-xr download "
        "--variant processed; agea-xr download --cell-types class --cell-types subclass "
        "--lipids",
    )
    _options.add_source(
        p,
        exports=False,
        sample=False,
        help="AGEA release folder or URL to download from (default: the official IBL "
        "bucket); the cell types and lipids come from its siblings merfish/ and lipids/",
    )
    _options.add_variant(p)
    what = p.add_argument_group("what to download")
    what.add_argument(
        "--cell-types",
        action="append",
        choices=LEVELS,
        metavar="LEVEL",
        dest="cell_types",
        help=f"MERFISH cell types of this taxonomy level ({', '.join(LEVELS)}: 11 MB, "
        "108 MB, 383 MB, 1.7 GB); repeatable",
    )
    what.add_argument(
        "--lipids", action="store_true", help="the lipid volumes (173 lipids, 110 MB)"
    )
    genes = what.add_mutually_exclusive_group()
    genes.add_argument(
        "--with-genes",
        action="store_const",
        const=True,
        dest="genes",
        help="the genes as well as --cell-types/--lipids (default: the genes only when "
        "neither is given)",
    )
    genes.add_argument(
        "--no-genes", action="store_const", const=False, dest="genes", help="not the genes"
    )
    p.add_argument(
        "--cache-dir",
        metavar="D",
        help="target folder (default: $AGEA_XR_CACHE or the per-user cache folder)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="re-verify the sha256 of the cached files first (replaces damaged ones)",
    )
    p.add_argument(
        "--offline",
        action="store_true",
        help="leave the source alone: only report what the cache holds (with --check: "
        "after re-hashing it); exit code 1 if files are missing",
    )
    _options.add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Download, then print what was current, downloaded, checked and removed."""
    from ..fetch import sync, sync_volumes
    from ..layout import BUCKET_URL

    levels = list(dict.fromkeys(args.cell_types or ()))
    genes = args.genes if args.genes is not None else not levels and not args.lipids
    if not (genes or levels or args.lipids):
        raise ValueError(
            "Nothing to download: --no-genes, and neither --cell-types LEVEL nor --lipids."
        )
    if not genes and args.variant:
        raise ValueError(
            f"--variant {args.variant} chooses the genes' binary, but the genes are not "
            "fetched with --cell-types/--lipids alone: add --with-genes, or drop --variant."
        )
    common = {
        "cache_dir": args.cache_dir,
        "storage_options": _options.storage_options(args),
        "progress": args.progress,
        "check": args.check,
        "offline": args.offline,
    }
    source = args.source or BUCKET_URL
    code = 0
    if genes:
        variant = args.variant or _options.DEFAULT_VARIANT
        code = _print_genes(sync(source, variant=variant, **common), variant)
    if levels or args.lipids:
        again = "agea-xr download" + "".join(f" --cell-types {x}" for x in levels)
        again += " --lipids" if args.lipids else ""
        for report in sync_volumes(source, cell_types=levels, lipids=args.lipids, **common):
            code = max(code, _print_report(report, _WHAT[report.folder.name], again))
    return code


#: How each folder of the cache is named in the reports.
_WHAT = {"merfish": "cell types", "lipids": "lipids", "agea": "grid label"}


def _print_genes(report, variant: str) -> int:
    return _print_report(report, f"{variant} release", f"agea-xr download --variant {variant}")


def _print_report(report, what: str, again: str) -> int:
    """Print one report; 1 if files are missing (offline), else 0."""
    if report.summary():
        print(report.summary())
    if report.reused_iblatlas:
        print(f"using iblatlas' existing copy: {report.folder}")
    if report.offline:
        state = (
            f"incomplete (run `{again}` to fetch the missing files)"
            if report.missing
            else "complete"
        )
        print(f"{what} {report.version} in {report.folder}: cache {state}, offline")
        return 1 if report.missing else 0
    state = "current" if report.was_current else "updated"
    print(f"{what} {report.version} from {report.source}: cache {state} in {report.folder}")
    return 0
