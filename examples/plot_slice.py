"""A coronal section of Pdyn with region boundaries, drawn by ``ds.agea.plot_slice``.

Run: ``python examples/plot_slice.py --out figures/`` (offline; ``--source FOLDER``
for a full release). Writes
``plot_slice_pdyn.png``: Pdyn 2.0 mm posterior to bregma (dentate gyrus, thalamus,
hypothalamus), in millimetres from bregma, dorsal up, left hemisphere on the left,
with the Beryl region boundaries and unmeasured voxels in grey.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import agea_xr

#: Figures this script writes into ``--out`` (the docs build runs it to draw them).
FIGURES = ("plot_slice_pdyn.png",)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    parser.add_argument(
        "--source",
        help="a release folder or URL, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")

    ds = agea_xr.open_dataset(args.source) if args.source else agea_xr.open_sample()
    ax = ds.agea.plot_slice(gene="Pdyn", ap=-2.0e-3, boundaries=True)
    args.out.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(args.out / FIGURES[0], dpi=110)
    print(f"wrote {args.out / FIGURES[0]}")


if __name__ == "__main__":
    main()
