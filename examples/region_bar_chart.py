"""Which brain regions express Pdyn most: a bar chart of Beryl region means.

Run: ``python examples/region_bar_chart.py --out figures/`` (offline; ``--source
FOLDER`` for a full release). Writes
``region_means_pdyn.png``. The mean runs over the measured voxels of each region
only (NaN voxels are not zeros), exactly as ``agea-xr demo`` ranks them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import agea_xr
from agea_xr.demo import top_regions
from agea_xr.regions import brain_regions

#: Figures this script writes into ``--out`` (the docs build runs it to draw them).
FIGURES = ("region_means_pdyn.png",)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figure")
    parser.add_argument("--gene", default="Pdyn", help="gene symbol (default Pdyn)")
    parser.add_argument(
        "--source",
        help="a release folder or URL, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = agea_xr.open_dataset(args.source) if args.source else agea_xr.open_sample()
    table = top_regions(ds, args.gene, mapping="Beryl", n=15)
    print(table.to_string(index=False))

    # Colour each bar with the region's colour in the Allen atlas.
    br = brain_regions()
    index = {rid: i for i, rid in enumerate(br.id)}
    colours = [br.rgb[index[rid]] / 255 for rid in table["id"]]

    fig, ax = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
    ax.barh(table["acronym"][::-1], table["mean"][::-1], color=colours[::-1], edgecolor="0.3")
    for y, (mean, n) in enumerate(zip(table["mean"][::-1], table["voxels"][::-1], strict=True)):
        ax.text(mean, y, f" {n}", va="center", fontsize=7, color="0.3")
    ax.set_xlabel(f"mean {args.gene} expression energy (measured voxels)")
    data = "full release" if args.source else "bundled Allen sample"
    ax.set_title(f"{args.gene}: top Beryl regions ({data})\nnumbers: voxels")
    args.out.mkdir(parents=True, exist_ok=True)
    name = FIGURES[0] if args.gene == "Pdyn" else f"region_means_{args.gene.lower()}.png"
    fig.savefig(args.out / name, dpi=110)
    print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
