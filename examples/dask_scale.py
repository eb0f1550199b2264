"""Chunks, lazy indexing and a dask.distributed cluster: the same code at any scale.

Run: ``python examples/dask_scale.py`` (offline, a few seconds: it starts a local
cluster of two worker processes). On the bundled sample (2 experiments) the numbers
are small; on the full release (4,345 experiments, 1.4 GB: ``--source FOLDER``) the
code is the same.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import agea_xr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="unused: no figure")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes")
    parser.add_argument(
        "--source",
        help="a release folder or URL, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    def open_(**kwargs):
        """The release asked for (or the bundled sample), opened with ``kwargs``."""
        if args.source:
            return agea_xr.open_dataset(args.source, **kwargs)
        return agea_xr.open_sample(**kwargs)

    # Default: dask chunks of 32 whole experiments (one contiguous byte range each).
    ds = open_()
    print("dask chunks:", ds.expression.chunks)

    # chunks=None: no dask; indexing reads only the experiments asked for.
    lazy = open_(chunks=None)
    one = lazy.expression.sel(gene="Nrp1").values  # reads only Nrp1's volume(s)
    print("chunks=None, one gene:", one.shape, one.dtype)

    # Another chunking: any whole number of experiments per chunk.
    print("chunks={'experiment': 1}:", open_(chunks={"experiment": 1}).chunks)

    # A reduction over all experiments on the default threaded scheduler ...
    threaded = ds.expression.mean("experiment").values

    # ... and the same code on a dask.distributed cluster. Each worker reads its own
    # byte ranges of the file: the dataset pickles small (a path, not the data).
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        print("cluster:", len(client.scheduler_info()["workers"]), "workers")
        distributed = ds.expression.mean("experiment").compute().values

    np.testing.assert_array_equal(threaded, distributed)
    print(
        "mean over experiments: identical on threads and on the cluster;",
        f"{np.isfinite(distributed).sum():,} voxels measured in at least one experiment",
    )


if __name__ == "__main__":
    main()
