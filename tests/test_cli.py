"""The ``agea-xr`` command line (foundation commands)."""

from __future__ import annotations

import pytest

from agea_xr.cli import main


def test_info_on_synthetic(synthetic_dir, capsys):
    assert main(["info", str(synthetic_dir)]) == 0
    out = capsys.readouterr().out
    assert "experiments: 12   genes: " in out
    assert "ml: -5.739 .. +5.661 mm (58 voxels)" in out
    assert "ap: +5.400 .. -7.800 mm (67 voxels)" in out
    assert "dv: +0.332 .. -7.668 mm (41 voxels)" in out
    assert "data version: 2025-03-18" in out
    assert "gene-expression.bin (3,823,824 B)" in out


def test_info_error_is_one_clear_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr info: error: AGEA folder")
    assert "Traceback" not in err


def test_demo_prints_top_regions_of_pdyn(demo_run):
    out = demo_run.stdout
    assert "experiments: 2   genes: 2" in out
    lines = out.split("Top 10 Beryl regions by mean Pdyn")[1].splitlines()[2:12]
    assert len(lines) == 10
    acronyms = [line.split()[0] for line in lines]
    # Pdyn (prodynorphin) is a striatal marker: the nucleus accumbens and the
    # caudoputamen rank high in the real Allen data.
    assert "ACB" in acronyms[:3]
    assert "CP" in acronyms


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("agea-xr ")
