"""``agea-xr info --cell-types`` and ``agea-xr similar --against``: equal to the library."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import agea_xr
from agea_xr.cli import main


def test_info_cell_types(root, capsys):
    assert main(["info", "--cell-types", "class", "--source", str(root / "merfish")]) == 0
    out = capsys.readouterr().out
    assert "level class (raw): 8 types, 3 neuronal, 5 non-neuronal" in out
    assert "Yao" in out and "float16" in out


@pytest.mark.parametrize("against", ["cell_types", "lipids"])
def test_similar_against_items_equals_the_library(root, tmp_path, capsys, against):
    csv = tmp_path / "s.csv"
    items = root / ("merfish" if against == "cell_types" else "lipids")
    argv = ["similar", "Pdyn", "--sample", "--against", against, "--items-source", str(items)]
    if against == "cell_types":  # --level applies to cell types only
        argv += ["--level", "class"]
    assert main([*argv, "--csv", str(csv), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "ranked by Pearson r with Pdyn (experiment 71717084)" in out
    query = agea_xr.open_sample().agea.gene("Pdyn")
    if against == "cell_types":
        ds, item = agea_xr.open_cell_types(items, "class"), "cell_type"
    else:
        ds, item = agea_xr.open_lipids(items), "lipid"
    want = agea_xr.similar(query, ds)
    got = pd.read_csv(csv)
    assert got[item].tolist() == want[item].tolist()
    np.testing.assert_allclose(got["r"], want["r"], rtol=1e-12)


def test_similar_against_items_with_spatial_p_equals_the_library(root, tmp_path, capsys):
    csv = tmp_path / "p.csv"
    items = root / "lipids"
    argv = ["similar", "Pdyn", "--sample", "--against", "lipids", "--items-source", str(items)]
    extra = ["--n-null", "19", "--random-state", "3", "--csv", str(csv), "--no-progress"]
    assert main([*argv, *extra]) == 0
    query = agea_xr.open_sample().agea.gene("Pdyn")
    want = agea_xr.similar(query, agea_xr.open_lipids(items), n_null=19, random_state=3)
    got = pd.read_csv(csv)
    assert got["lipid"].tolist() == want["lipid"].tolist()
    np.testing.assert_allclose(got["p_spatial"], want["p_spatial"], rtol=1e-12)
    np.testing.assert_allclose(got["q"], want["q"], rtol=1e-12)
    assert got["p_spatial"].min() >= 1 / 20  # (1 + count) / (1 + n_null)


def test_similar_against_unknown_is_a_message(root, capsys):
    with pytest.raises(SystemExit):
        main(["similar", "Pdyn", "--sample", "--against", "neurons"])
    assert "invalid choice" in capsys.readouterr().err
