"""AGEA's modes in xarray: similar genes, expression clusters, a painted region map.

Run: ``python examples/agea_modes.py --out figures/`` (offline; ``--source FOLDER``
for a full release). Writes ``modes_region_map.png`` (Pdyn's Beryl region means
painted onto the grid, from ``--source``, default the bundled real sample), and,
from a synthetic planted release on the real Allen annotation (12 families of
experiments, each with its own profile per Cosmos region, plus noise and the real
pattern of missing voxels), ``modes_similar.png`` and ``modes_clusters.png``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import agea_xr
from agea_xr.testing import planted_families, write_planted

#: Figures this script writes into ``--out`` (the docs build runs it to draw them).
FIGURES = ("modes_region_map.png", "modes_similar.png", "modes_clusters.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the figures")
    parser.add_argument(
        "--source",
        help="a release folder or URL, e.g. the full release (default: the bundled sample)",
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    ds = agea_xr.open_dataset(args.source) if args.source else agea_xr.open_sample()

    # 1. a painted region map: Pdyn's Beryl means on the grid, three planes
    means = ds.agea.region_expression("Beryl", combine_genes=True).sel(gene="Pdyn").compute()
    painted = ds.agea.region_map(means)
    fig, _ = painted.agea.plot_overview(xyz=(2.5e-3, 0.5e-3, -3.5e-3))
    fig.savefig(args.out / FIGURES[0], dpi=100)
    plt.close(fig)
    print(f"painted {means.sizes['region']} Beryl regions; wrote {args.out / FIGURES[0]}")

    with tempfile.TemporaryDirectory() as scratch:
        planted = agea_xr.open_dataset(write_planted(Path(scratch) / "agea", 48, seed=0))
        families = planted_families(48)

        # 2. similar genes for a query map: the first experiment's map against all 48
        query = int(planted["experiment"].values[0])
        table = planted.agea.similar_genes(query, mask="CTX", mapping="Cosmos")
        print(table.head(8).to_string(index=False))
        position = {int(e): i for i, e in enumerate(planted["experiment"].values)}
        family = families[[position[int(e)] for e in table["experiment"]]]
        same = family == families[0]
        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        top = table.head(20)
        ax.bar(range(len(top)), top["r"], color=["C3" if s else "0.6" for s in same[:20]])
        ax.set_xticks(range(len(top)), top["gene"], rotation=60, fontsize=7)
        ax.set_ylabel("Pearson r with the query map (cortex)")
        ax.set_title("similar_genes: red = the query's planted family (synthetic)")
        fig.savefig(args.out / FIGURES[1], dpi=100)
        plt.close(fig)

        # 3. clusters with region boundaries (Cosmos, the planted regions)
        c = planted.agea.clusters(12, random_state=0)
        print(agea_xr.agreement(c, "Cosmos").to_string(index=False))
        shown = c.where(c > 0).astype(float)
        shown.attrs = {"long_name": "expression cluster"}
        cmap = matplotlib.colors.ListedColormap(matplotlib.colormaps["tab20"].colors[:12])
        fig, _ = shown.agea.plot_overview(
            xyz=(-1.5e-3, -2.0e-3, -3.0e-3), mapping="Cosmos", cmap=cmap, vmin=0.5, vmax=12.5
        )
        fig.savefig(args.out / FIGURES[2], dpi=100)
        plt.close(fig)
    print(f"wrote {args.out / FIGURES[1]} and {args.out / FIGURES[2]}")


if __name__ == "__main__":
    main()
