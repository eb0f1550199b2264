"""``agea-xr download``: fill the local cache with the release, verified."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``download`` command."""
    p = sub.add_parser(
        "download",
        help="download the release into the local cache (verified, resumable)",
        description="Download the AGEA release (the table, label.npy, image.npy and one "
        "binary) into the local cache, verify it and record it in the cache manifest; say "
        "whether the cache was already current. An interrupted download resumes. "
        "Example: agea-xr download --variant processed",
    )
    p.add_argument(
        "--variant",
        choices=("raw", "processed"),
        default="raw",
        help="which binary to fetch (default: raw)",
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
        "--source",
        metavar="URL",
        help="release folder to download from (default: the official IBL bucket)",
    )
    p.add_argument("--endpoint-url", metavar="URL", help="S3 endpoint of a mirror")
    p.add_argument("--anon", action="store_true", help="read the source anonymously")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Download, then print what was current, downloaded, checked and removed."""
    from ..fetch import sync
    from ..layout import BUCKET_URL

    options = {}
    if args.endpoint_url:
        options["endpoint_url"] = args.endpoint_url
    if args.anon:
        options["anon"] = True
    report = sync(
        args.source or BUCKET_URL,
        variant=args.variant,
        cache_dir=args.cache_dir,
        storage_options=options,
        progress=not args.no_progress,
        check=args.check,
    )
    if report.checked:
        print(f"checked (sha256): {', '.join(report.checked)}")
    if report.removed:
        print(f"failed verification, removed: {', '.join(report.removed)}")
    if report.reused_iblatlas:
        print(f"using iblatlas' existing copy: {report.folder}")
    if report.downloaded:
        print(f"downloaded: {', '.join(report.downloaded)}")
    state = "current" if report.was_current else "updated"
    print(
        f"{args.variant} release {report.version} from {report.source}: "
        f"cache {state} in {report.folder}"
    )
    return 0
