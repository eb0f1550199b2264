"""Open the bundled sample, look at what is in it, select a gene and a voxel.

Run: ``python examples/open_sample.py`` (offline, a second or two), or
``python examples/open_sample.py --source ~/agea`` on a full release. The page
"Getting started" of the documentation walks through the same steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import agea_xr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="unused: no figure")
    parser.add_argument(
        "--source",
        help="a release folder or URL, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    # the bundled sample holds two real Allen experiments: Pdyn and Nrp1
    ds = agea_xr.open_dataset(args.source) if args.source else agea_xr.open_sample()
    print(ds)

    # Every experiment of a gene, by symbol (a gene may have several experiments).
    pdyn = ds.expression.sel(gene="Pdyn")
    print("Pdyn experiments:", pdyn.experiment.values)

    # One voxel, by coordinates in metres from bregma (nearest voxel centre):
    # 1.5 mm right of the midline, 1.0 mm anterior, 3.5 mm below bregma (striatum).
    voxel = pdyn.sel(ml=1.5e-3, ap=1.0e-3, dv=-3.5e-3, method="nearest")
    print(
        f"Pdyn at ml={float(voxel.ml) * 1e3:+.3f} ap={float(voxel.ap) * 1e3:+.3f} "
        f"dv={float(voxel.dv) * 1e3:+.3f} mm: {voxel.values} (one value per experiment)"
    )

    # NaN marks voxels the experiment did not measure (-1 in the raw file).
    measured = float(pdyn.notnull().mean())
    print(f"fraction of the grid measured for Pdyn: {measured:.3f}")


if __name__ == "__main__":
    main()
