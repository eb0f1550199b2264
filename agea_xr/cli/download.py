"""``agea-xr download``: fill the local cache with the release, verified."""

from __future__ import annotations

import argparse

from . import _options

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``download`` command."""
    p = sub.add_parser(
        "download",
        help="download the release into the local cache (verified, resumable)",
        description="Download the AGEA release (the table, label.npy, image.npy and one "
        "binary) into the local cache, verify it and record it in the cache manifest; say "
        "whether the cache was already current. An interrupted download resumes. --check "
        "re-hashes the cached files first; --check --offline does only that, without the "
        "network. Example: agea-xr download --variant processed",
    )
    _options.add_source(
        p,
        exports=False,
        sample=False,
        help="release folder or URL to download from (default: the official IBL bucket)",
    )
    _options.add_variant(p)
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
    from ..fetch import sync
    from ..layout import BUCKET_URL

    variant = args.variant or _options.DEFAULT_VARIANT
    report = sync(
        args.source or BUCKET_URL,
        variant=variant,
        cache_dir=args.cache_dir,
        storage_options=_options.storage_options(args),
        progress=args.progress,
        check=args.check,
        offline=args.offline,
    )
    if report.summary():
        print(report.summary())
    if report.reused_iblatlas:
        print(f"using iblatlas' existing copy: {report.folder}")
    if report.offline:
        state = (
            f"incomplete (run `agea-xr download --variant {variant}` to fetch the missing files)"
            if report.missing
            else "complete"
        )
        print(f"{variant} release {report.version} in {report.folder}: cache {state}, offline")
        return 1 if report.missing else 0
    state = "current" if report.was_current else "updated"
    where = f"{report.source}: cache {state} in {report.folder}"
    print(f"{variant} release {report.version} from {where}")
    return 0
