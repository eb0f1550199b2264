"""``agea-xr regions``, ``agea-xr correlate`` and ``agea-xr find``: the analyses.

Each prints a table (``--csv FILE`` writes the full result), shows a progress
bar on stderr for computations longer than a second, and runs on dask's
threaded scheduler unless told otherwise: ``--scheduler distributed`` starts a
local dask cluster, ``--address tcp://host:8786`` uses a running one.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

from . import _options

__all__ = ["register", "run_correlate", "run_find", "run_regions"]

SCHEDULERS = ("threads", "processes", "synchronous", "distributed")
#: Seconds a computation runs before its progress bar appears.
PROGRESS_DELAY = 1.0


def _common(p: argparse.ArgumentParser) -> None:
    _options.add_source(p)
    _options.add_variant(p)
    p.add_argument("--csv", metavar="FILE", help="write the full result to a CSV file")
    p.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default="threads",
        help="dask scheduler (default threads; 'distributed' starts a local cluster)",
    )
    p.add_argument(
        "--address", help="address of a running dask.distributed scheduler (tcp://host:8786)"
    )
    _options.add_progress(p)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``regions``, ``correlate`` and ``find`` commands."""
    p = sub.add_parser(
        "regions",
        help="region x experiment matrix of expression statistics",
        description="Mean (or median, std, count, fraction_measured) expression of every "
        "region in every experiment, measured voxels only. Example: agea-xr regions "
        "--sample --gene Pdyn --mapping Cosmos",
    )
    _common(p)
    _options.add_genes(p)
    _options.add_mapping(p)
    p.add_argument("--stat", default="mean", help="mean, median, std, count, fraction_measured")
    p.add_argument("--hemisphere", choices=("left", "right", "split"), help="default: both")
    p.add_argument(
        "--combine-genes", action="store_true", help="pool the experiments of each gene"
    )
    p.set_defaults(func=run_regions)

    p = sub.add_parser(
        "correlate",
        help="correlation map of every voxel with a seed, across experiments",
        description="Pearson r, across experiments, between a seed's expression profile and "
        "every voxel's (experiments measured at both only). Prints the most correlated "
        "voxels inside the brain (label != 0; --include-void keeps the others). Example: "
        "agea-xr correlate --seed -1.5 -2.0 -1.5",
    )
    _common(p)
    _options.add_genes(p, help="only this gene's experiments (repeatable)")
    seed = p.add_mutually_exclusive_group(required=True)
    seed.add_argument(
        "--seed",
        nargs=3,
        type=_options.millimetres("--seed"),
        metavar=("ML", "AP", "DV"),
        help="seed point in mm from bregma (ML right+, AP anterior+, DV dorsal+)",
    )
    seed.add_argument(
        "--seed-region", action="append", metavar="ACRONYM", help="seed region (repeatable)"
    )
    p.add_argument(
        "--min-experiments",
        type=_options.count("--min-experiments"),
        default=10,
        help="default 10",
    )
    p.add_argument(
        "--top", type=_options.count("--top"), default=20, help="voxels to print (default 20)"
    )
    p.add_argument(
        "--include-void",
        action="store_true",
        help="also rank voxels outside the brain (label 0, 'void'); default: brain only",
    )
    p.set_defaults(func=run_correlate)

    p = sub.add_parser(
        "find",
        help="genes enriched in a target region (gene finder)",
        description="Rank experiments by enrichment in a target region against a contrast "
        "(default: the rest of the brain): means, fold change, Cohen's d, voxel counts. "
        "Example: agea-xr find --target CA1 --contrast HPF",
    )
    _common(p)
    _options.add_genes(p, help="rank only this gene's experiments (repeatable)")
    p.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="ACRONYM",
        help="target region (repeatable)",
    )
    p.add_argument(
        "--contrast",
        action="append",
        metavar="ACRONYM",
        help="contrast region (repeatable; default: the rest of the brain)",
    )
    _options.add_mapping(p)
    p.add_argument("--hemisphere", choices=("left", "right"), help="default: both")
    p.add_argument("--per-gene", action="store_true", help="one row per gene")
    p.add_argument(
        "--sort-by",
        default="effect_size",
        choices=("effect_size", "fold_change", "mean_target", "mean_contrast"),
        help="column to rank by (default effect_size)",
    )
    p.add_argument(
        "--min-voxels", type=_options.count("--min-voxels"), default=3, help="default 3"
    )
    p.add_argument(
        "--top", type=_options.count("--top"), default=20, help="rows to print (default 20)"
    )
    p.set_defaults(func=run_find)


# --- shared machinery -------------------------------------------------------------
def _open(args: argparse.Namespace):
    """Check the outputs and the mapping first, then open the data (before any work)."""
    if args.csv:
        _options.output_file(args.csv, "--csv")
    if hasattr(args, "mapping"):
        _options.check_mapping(args)
    return _options.open_source(args)


@contextlib.contextmanager
def _compute_context(args: argparse.Namespace) -> Iterator[None]:
    """Scheduler and progress display for the computations inside the block."""
    import dask

    if args.address or args.scheduler == "distributed":
        try:
            from distributed import Client
        except ImportError as err:
            raise ImportError(
                "--scheduler distributed and --address need dask.distributed: install the "
                "'distributed' extra (pip install 'agea-xr[distributed]')."
            ) from err
        client = (
            Client(args.address)
            if args.address
            else Client(processes=True, dashboard_address=":0")
        )
        try:
            if args.progress:
                print(f"dask dashboard (progress): {client.dashboard_link}", file=sys.stderr)
            yield
        finally:
            client.close()
        return
    with dask.config.set(scheduler=args.scheduler), contextlib.ExitStack() as stack:
        if args.progress:
            stack.enter_context(_CommandProgress(args.command))
        yield


class _CommandProgress:
    """One tqdm bar on stderr for every dask computation of a command, shown after a second.

    ``clusters`` runs several computations (two passes, the PCA's power iterations),
    each under a second: a bar per computation (tqdm's ``TqdmCallback``) never showed.
    The tasks of each computation are added to the bar's total as it starts.
    """

    def __init__(self, desc: str) -> None:
        self.desc = desc

    def __enter__(self) -> _CommandProgress:
        from dask.callbacks import Callback
        from tqdm.auto import tqdm  # a bar on stderr in a terminal, a widget in notebooks

        bar = tqdm(total=0, desc=self.desc, unit="task", delay=PROGRESS_DELAY, file=sys.stderr)

        def start(_dsk, state) -> None:
            bar.total += sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))

        self.bar = bar
        self.callback = Callback(start_state=start, posttask=lambda *_: bar.update())
        self.callback.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.callback.__exit__(*exc)
        self.bar.close()


def _print_table(table, note: str = "") -> None:
    import pandas as pd

    if table.empty:  # pandas would print "Empty DataFrame"; the header says what is absent
        print("  ".join(map(str, table.columns)))
    else:
        with pd.option_context("display.width", 200):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if note:
        print(note)


def _write_csv(table, path: str | None) -> None:
    if path:
        table.to_csv(path, index=False)
        print(f"wrote {len(table):,} rows to {path}", file=sys.stderr)


# --- regions ----------------------------------------------------------------------
def run_regions(args: argparse.Namespace) -> int:
    """Print (and optionally write) the region x experiment matrix."""
    import numpy as np
    import pandas as pd

    from ..analysis import region_expression

    ds = _open(args)
    with _compute_context(args):
        result = region_expression(
            ds,
            args.mapping,
            args.stat,
            hemisphere=args.hemisphere,
            combine_genes=args.combine_genes,
        ).compute()
    labels = [str(a) for a in result["acronym"].values]
    if "hemisphere" in result.coords:
        labels = [f"{a} ({h})" for a, h in zip(labels, result["hemisphere"].values, strict=True)]
    values = np.asarray(result.values)
    if args.combine_genes:
        head = pd.DataFrame(
            {"gene": result["gene"].values, "n_experiments": result["n_experiments"].values}
        )
    else:
        head = pd.DataFrame(
            {"gene": result["gene"].values, "experiment": result["experiment"].values}
        )
    wide = pd.concat([head, pd.DataFrame(values, columns=labels)], axis=1)
    _write_csv(wide, args.csv)
    print(
        f"{args.stat} expression per {args.mapping} region "
        f"({len(head)} {'gene' if args.combine_genes else 'experiment'}"
        f"{'' if len(head) == 1 else 's'} x "
        f"{len(labels)} regions; measured voxels only):"
    )
    if len(head) <= 8:
        tall = pd.DataFrame({"region": labels, "name": result["name"].values})
        names = head["gene"].astype(str)
        if not args.combine_genes:
            names = names + " " + head["experiment"].astype(str)
        for i, column in enumerate(names):
            tall[column] = values[i]
        _print_table(tall)
    else:
        with pd.option_context("display.max_rows", 20, "display.max_columns", 10):
            print(wide.to_string(max_rows=20, max_cols=10, float_format=lambda v: f"{v:.3f}"))
        if not args.csv:
            print("(truncated: write the whole matrix with --csv FILE)")
    return 0


# --- correlate --------------------------------------------------------------------
def run_correlate(args: argparse.Namespace) -> int:
    """Print (and optionally write) the voxels most correlated with the seed.

    Only voxels inside the brain (label != 0) are ranked, unless
    ``--include-void`` is given or the dataset has no label volume.
    """
    import numpy as np
    import pandas as pd

    from ..analysis import seed_correlation
    from ..regions import brain_regions
    from ._errors import for_cli

    ds = _open(args)
    if args.seed is not None:
        ml, ap, dv = (v * 1e-3 for v in args.seed)
        lazy = seed_correlation(ds, [ml, ap, dv], min_experiments=args.min_experiments)
    else:
        lazy = seed_correlation(
            ds, region=list(args.seed_region), min_experiments=args.min_experiments
        )
    with _compute_context(args):
        r = lazy.compute()
    grid = r.to_dataframe().reset_index()
    table = pd.DataFrame(
        {
            "ml_mm": grid["ml"] * 1e3,
            "ap_mm": grid["ap"] * 1e3,
            "dv_mm": grid["dv"] * 1e3,
            "r": grid["r"],
            "n_experiments": grid["n_experiments"],
        }
    )
    keep = np.isfinite(table["r"].to_numpy())
    where = ""
    if "label" in ds:
        label = ds["label"].transpose("ml", "dv", "ap").values.reshape(-1)
        table.insert(3, "region", brain_regions().acronym[label].astype(str))
        if not args.include_void:
            keep &= label != 0
            where = " inside the brain"
    table = table[keep]
    table = table.sort_values("r", ascending=False, kind="stable").reset_index(drop=True)
    _write_csv(table, args.csv)
    print(
        f"{for_cli(r.attrs['description'])}: {len(table):,} voxels{where} with at least "
        f"{args.min_experiments} experiments measured at both; top {args.top}:"
    )
    _print_table(table.head(args.top))
    return 0


# --- find -------------------------------------------------------------------------
def run_find(args: argparse.Namespace) -> int:
    """Print the experiments (or genes) most enriched in the target."""
    from ..analysis import gene_finder

    ds = _open(args)
    with _compute_context(args):
        table = gene_finder(
            ds,
            list(args.target),
            list(args.contrast) if args.contrast else None,
            mapping=args.mapping,
            hemisphere=args.hemisphere,
            per_gene=args.per_gene,
            min_voxels=args.min_voxels,
            sort_by=args.sort_by,
        )
    _write_csv(table, args.csv)
    info = table.attrs
    print(
        f"Enrichment in {info['target']} ({info['target_voxels']} voxels) against "
        f"{info['contrast']} ({info['contrast_voxels']} voxels), ranked by {args.sort_by}; "
        f"top {min(args.top, len(table))} of {len(table)}:"
    )
    _print_table(table.head(args.top))
    return 0
