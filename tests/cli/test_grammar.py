"""One grammar for every command: the shared options, checked numbers, millimetres."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from agea_xr import layout
from agea_xr.cli import COMMAND_MODULES, build_parser, main
from agea_xr.cli._errors import for_cli

#: Commands that read a dataset, and so take --source (and --sample, but download).
DATA_COMMANDS = (
    "info",
    "genes",
    "demo",
    "plot",
    "export",
    "regions",
    "correlate",
    "find",
    "similar",
    "clusters",
)


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def options(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in p._actions for s in a.option_strings}


def test_every_module_registers_its_commands():
    names = set(subparsers())
    assert {"genes", "info", "demo", "plot", "export", "ingest", "download"} <= names
    assert {"regions", "correlate", "find"} <= names
    assert "genes" in COMMAND_MODULES


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_the_data_is_spelled_the_same_everywhere(command):
    p = subparsers()[command]
    opts = options(p)
    assert "--source" in opts and opts["--source"].dest == "source"
    # no command takes the data as a positional path any more
    positionals = [a.dest for a in p._actions if not a.option_strings]
    assert "path" not in positionals and "source" not in positionals
    if command != "demo":  # the demo runs on the sample by default
        assert isinstance(opts["--sample"], argparse._StoreTrueAction)
    if command not in ("demo",):
        assert tuple(opts["--variant"].choices) == tuple(layout.VARIANTS)
    assert opts["--progress"].default is True
    assert "--no-progress" in opts


def test_download_shares_source_variant_and_progress():
    opts = options(subparsers()["download"])
    assert tuple(opts["--variant"].choices) == tuple(layout.VARIANTS)
    assert {"--source", "--anon", "--endpoint-url", "--no-progress", "--offline"} <= set(opts)
    assert "--sample" not in opts


def test_one_spelling_of_genes_and_one_default_mapping():
    parsers = subparsers()
    with_gene = {n for n, p in parsers.items() if "--gene" in options(p)}
    assert with_gene == {
        "regions",
        "correlate",
        "find",
        "export",
        "plot",
        "demo",
        "similar",
        "clusters",
    }
    for name in with_gene:
        action = options(parsers[name])["--gene"]
        assert isinstance(action, argparse._AppendAction), name
        assert action.dest == "genes"
    assert not any("--genes" in options(p) for p in parsers.values())
    mappings = {
        n: options(p)["--mapping"].default for n, p in parsers.items() if "--mapping" in options(p)
    }
    assert set(mappings) == {
        "regions",
        "find",
        "export",
        "plot",
        "demo",
        "decode",
        "similar",
        "clusters",
    }
    assert set(mappings.values()) == {"Beryl"}  # region_expression's default


def test_repeated_gene_flags_collect(synthetic_dir):
    args = build_parser().parse_args(["export", "x.nc", "--gene", "Pdyn", "--gene", "Gene0002"])
    assert args.genes == ["Pdyn", "Gene0002"]
    args = build_parser().parse_args(["regions", "--sample", "--gene", "Pdyn"])
    assert args.genes == ["Pdyn"] and args.mapping == "Beryl" and args.progress


def test_a_bare_path_points_to_source(synthetic_dir, capsys):
    with pytest.raises(SystemExit) as done:
        main(["info", str(synthetic_dir)])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith(f"(give the data as --source {synthetic_dir})\n")


# --- numbers are checked before any work (issue 10, case 7) ------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["correlate", "--sample", "--seed", "1", "1", "1", "--top", "-3"],
            "argument --top: must be at least 0, got -3.",
        ),
        (
            ["find", "--sample", "--target", "CA1", "--top", "2.5"],
            "argument --top: must be a whole number, got '2.5': pass an integer.",
        ),
        (
            ["find", "--sample", "--target", "CA1", "--min-voxels", "-1"],
            "argument --min-voxels: must be at least 0, got -1.",
        ),
        (
            ["correlate", "--sample", "--seed", "1", "1", "1", "--min-experiments", "-2"],
            "argument --min-experiments: must be at least 0, got -2.",
        ),
        (
            ["plot", "--gene", "Pdyn", "--ap", "nan", "--sample", "-o", "x.png"],
            "argument --ap: must be a finite number (in mm), got 'nan'.",
        ),
        (
            ["plot", "--gene", "Pdyn", "--ml", "inf", "--sample", "-o", "x.png"],
            "argument --ml: must be a finite number (in mm), got 'inf'.",
        ),
        (
            ["correlate", "--sample", "--seed", "1", "nan", "1"],
            "argument --seed: must be a finite number (in mm), got 'nan'.",
        ),
        (
            ["plot", "--gene", "Pdyn", "--ap", "1", "--sample", "-o", "x.png", "--dpi", "0"],
            "argument --dpi: must be at least 1, got 0.",
        ),
        (
            ["export", "x.nc", "--sample", "--experiment", "71717084.9"],
            "argument --experiment: must be a whole number, got '71717084.9': pass an integer.",
        ),
        (["demo", "--top", "-1"], "argument --top: must be at least 0, got -1."),
        # as n_null=0 in Python: no surrogates is no p-value, not a silent "none"
        (
            ["similar", "Pdyn", "--sample", "--n-null", "0"],
            "argument --n-null: must be at least 1, got 0.",
        ),
        (
            ["decode", "map.nii", "--sample", "--n-null", "0"],
            "argument --n-null: must be at least 1, got 0.",
        ),
    ],
)
def test_bad_numbers_are_refused_with_the_option_named(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"agea-xr {argv[0]}: error: {message}"


def test_whole_numbers_written_as_floats_are_accepted():
    args = build_parser().parse_args(["export", "x.nc", "--experiment", "71717084.0"])
    assert args.experiments == [71717084] and isinstance(args.experiments[0], int)


# --- millimetres in every message -----------------------------------------------------------
@pytest.mark.parametrize(
    ("library", "cli"),
    [
        (
            "ap=0.1 m (+100.000 mm) lies outside the grid, whose ap voxel centres span "
            "-7.800 .. +5.400 mm. Coordinates are in metres from bregma (ap=-2.0e-3 is 2 mm "
            "posterior).",
            "--ap 100 mm lies outside the grid, whose ap voxel centres span -7.800 .. +5.400 "
            "mm. Coordinates are in millimetres from bregma (--ap -2 is 2 mm posterior).",
        ),
        (
            "The seed xyz=[-0.0057, 0.0054, 0.0003] (m) falls in the voxel at x=-5.739, "
            "y=+5.400, z=+0.332 mm: seed there (xyz=[-0.003939, 0.0028, -0.001268]), or lower "
            "min_experiments.",
            "The seed ML AP DV = -5.7 5.4 0.3 mm falls in the voxel at x=-5.739, y=+5.400, "
            "z=+0.332 mm: seed there (--seed -3.939 2.8 -1.268), or lower --min-experiments.",
        ),
        (
            "ml must be a finite number (in m), got nan.",
            "ml must be a finite number (in mm), got nan.",
        ),
        (
            "No credentials: pass storage_options with anon=True.",
            "No credentials: pass storage_options with --anon.",
        ),
        # numbers already in mm, and numbers that are not positions, are left alone
        ("x=-1.539, y=+2.000 mm (3.54 mm away)", "x=-1.539, y=+2.000 mm (3.54 mm away)"),
        ("experiment 71717084 has 2 genes", "experiment 71717084 has 2 genes"),
    ],
)
def test_library_messages_are_said_in_millimetres(library, cli):
    assert for_cli(library) == cli


# --- cheap: --help imports nothing heavy -----------------------------------------------------
def test_help_imports_no_heavy_library():
    code = (
        "import sys; from agea_xr.cli import build_parser; build_parser(); "
        "heavy = ('xarray', 'pandas', 'dask', 'matplotlib', 'iblatlas', 'zarr', 's3fs', "
        "'numba', 'agea_xr.accessor', 'agea_xr.api'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("agea-xr ")
