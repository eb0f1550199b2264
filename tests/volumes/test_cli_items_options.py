"""The command line passes every option of the cell types and lipids to the library.

``info --cell-types`` / ``info --lipids`` and ``similar --against`` read an
``s3://`` source with ``--anon`` and ``--endpoint-url`` (a moto server on
loopback), the processed variant and ``--min-reliability``, and print what
the library gives with the same arguments; an option that does not apply is
refused with one line naming it, never ignored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import agea_xr
from agea_xr.cli import main
from agea_xr.volumes import describe

pytest_plugins = ["tests.s3server"]


@pytest.fixture(autouse=True)
def _dummy_credentials(aws_env):
    """Dummy AWS credentials only."""


@pytest.fixture(scope="module")
def bucket(s3_server, root):
    """The session's synthetic atlas at ``s3://agea-cli/atlas`` (public-read)."""
    for kind in ("agea", "merfish", "lipids"):
        s3_server.upload("agea-cli", f"atlas/{kind}", root / kind)
    options = {"anon": True, "endpoint_url": s3_server.endpoint}
    return "s3://agea-cli/atlas", options


def flags(options: dict) -> list[str]:
    return ["--anon", "--endpoint-url", options["endpoint_url"]]


def test_info_cell_types_from_s3_with_anon_and_endpoint(bucket, capsys):
    url, options = bucket
    argv = ["info", "--cell-types", "class", "--source", f"{url}/merfish", *flags(options)]
    assert main(argv) == 0
    want = describe(agea_xr.open_cell_types(f"{url}/merfish", "class", storage_options=options))
    assert capsys.readouterr().out == want + "\n"
    assert "level class (raw): 8 types" in want


def test_info_lipids_from_s3_with_min_reliability(bucket, capsys):
    url, options = bucket
    argv = ["info", "--lipids", "--min-reliability", "0.6", "--source", f"{url}/lipids"]
    assert main([*argv, *flags(options)]) == 0
    lp = agea_xr.open_lipids(f"{url}/lipids", min_reliability=0.6, storage_options=options)
    assert capsys.readouterr().out == describe(lp) + "\n"
    assert lp.sizes["lipid"] == 7
    assert "Lipid Brain Atlas volumes: 7 lipids" in describe(lp)


def test_info_cell_types_processed_says_processed(root, capsys):
    argv = ["info", "--cell-types", "subclass", "--variant", "processed"]
    assert main([*argv, "--source", str(root / "merfish")]) == 0
    out = capsys.readouterr().out
    ct = agea_xr.open_cell_types(root / "merfish", "subclass", "processed")
    assert out == describe(ct) + "\n"
    assert out.startswith("MERFISH cell types, level subclass (processed): 7 types, 7 neuronal")
    assert "density ('cell_type', 'ml', 'dv', 'ap'), float32 (float16 on disk, 319 kB" in out


def test_similar_against_processed_cell_types_from_s3(bucket, tmp_path, capsys):
    url, options = bucket
    csv = tmp_path / "ct.csv"
    argv = ["similar", "Pdyn", "--sample", "--against", "cell_types", "--level", "class"]
    extra = ["--items-variant", "processed", "--items-source", f"{url}/merfish", *flags(options)]
    assert main([*argv, *extra, "--csv", str(csv), "--no-progress"]) == 0
    assert "3 class cell types ranked by Pearson r" in capsys.readouterr().out
    ct = agea_xr.open_cell_types(f"{url}/merfish", "class", "processed", storage_options=options)
    want = agea_xr.similar(agea_xr.open_sample().agea.gene("Pdyn"), ct)
    got = pd.read_csv(csv)
    assert got["cell_type"].tolist() == want["cell_type"].tolist()
    np.testing.assert_allclose(got["r"], want["r"], rtol=1e-12)


def test_similar_against_lipids_from_s3_with_min_reliability(bucket, tmp_path, capsys):
    url, options = bucket
    csv = tmp_path / "lp.csv"
    argv = ["similar", "Pdyn", "--sample", "--against", "lipids", "--min-reliability", "0.6"]
    extra = ["--items-source", f"{url}/lipids", *flags(options), "--csv", str(csv)]
    assert main([*argv, *extra, "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("7 lipids ranked by Pearson r")
    lp = agea_xr.open_lipids(f"{url}/lipids", min_reliability=0.6, storage_options=options)
    want = agea_xr.similar(agea_xr.open_sample().agea.gene("Pdyn"), lp)
    got = pd.read_csv(csv)
    assert got["lipid"].tolist() == want["lipid"].tolist()
    assert (got["reliability"] >= 0.6).all()
    np.testing.assert_allclose(got["r"], want["r"], rtol=1e-12)


REFUSED = [
    (
        ["similar", "Pdyn", "--sample", "--against", "genes", "--level", "class"],
        "agea-xr similar: error: --level applies to --against cell_types, not to --against "
        "genes: drop it, or add --against cell_types.",
    ),
    (
        ["similar", "Pdyn", "--sample", "--against", "lipids", "--level", "class"],
        "agea-xr similar: error: --level applies to --against cell_types, not to --against "
        "lipids: drop it, or add --against cell_types.",
    ),
    (
        ["similar", "Pdyn", "--sample", "--against", "lipids", "--items-variant", "processed"],
        "agea-xr similar: error: --items-variant applies to --against cell_types, not to "
        "--against lipids: drop it, or add --against cell_types.",
    ),
    (
        ["similar", "Pdyn", "--sample", "--against", "cell_types", "--min-reliability", "0.5"],
        "agea-xr similar: error: --min-reliability applies to --against lipids, not to "
        "--against cell_types: drop it, or add --against lipids.",
    ),
    (
        ["similar", "Pdyn", "--sample", "--items-source", "merfish"],
        "agea-xr similar: error: --items-source applies to --against cell_types or lipids, "
        "not to --against genes: drop it, or add --against cell_types.",
    ),
    (
        ["similar", "Pdyn", "--sample", "--against", "lipids", "--per-gene"],
        "agea-xr similar: error: --per-gene ranks genes: drop it with --against lipids",
    ),
    (
        ["info", "--lipids", "--variant", "processed"],
        "agea-xr info: error: --variant processed chooses the genes' or the cell types' "
        "volumes; the lipids have one: drop it (--min-reliability selects lipids).",
    ),
    (
        ["info", "--cell-types", "class", "--min-reliability", "0.6"],
        "agea-xr info: error: --min-reliability selects lipids: it applies to --lipids only.",
    ),
    (
        ["info", "--sample", "--min-reliability", "0.6"],
        "agea-xr info: error: --min-reliability selects lipids: it applies to --lipids only.",
    ),
    (
        ["info", "--lipids", "--sample"],
        "agea-xr info: error: --sample is the genes' bundled sample; --lipids has none: give "
        "--source (their folder or URL) or nothing (the local caches, else the IBL bucket).",
    ),
    (
        ["info", "--cell-types", "class", "--no-mask-and-scale"],
        "agea-xr info: error: --no-mask-and-scale applies to the genes' float16 with -1; "
        "--cell-types volumes hold NaN where nothing was measured: drop it.",
    ),
]


@pytest.mark.parametrize(("argv", "message"), REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_an_option_that_does_not_apply_is_refused_not_ignored(argv, message, capsys):
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == message + "\n"
    assert captured.out == ""


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "high"])
def test_min_reliability_outside_0_to_1_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["info", "--lipids", "--min-reliability", value])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith(
        f"agea-xr info: error: argument --min-reliability: must be a number from 0 to 1, "
        f"got {value!r}.\n"
    )
    assert "Traceback" not in err
