"""``plot`` and ``demo``: pictures where asked, folders checked or made before any work."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

from agea_xr.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def test_cli_plot_writes_a_png(tmp_path, capsys):
    out = tmp_path / "pdyn.png"
    argv = ["plot", "--gene", "Pdyn", "--ap", "1.0", "--sample", "-o", str(out), "--dpi", "50"]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out)
    picture = matplotlib.image.imread(out)
    assert picture.shape[2] in (3, 4)
    assert picture.shape[1] > picture.shape[0]  # a coronal section is wider than tall
    assert picture[..., :3].std() > 0.05


def test_cli_plot_errors_are_one_line_in_mm(tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["plot", "--gene", "Pdyn", "--ap", "100", "--sample", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "agea-xr plot: error: --ap 100 mm lies outside the grid, whose ap voxel centres span "
        "-7.800 .. +5.400 mm. Coordinates are in millimetres from bregma (--ap -2 is 2 mm "
        "posterior).\n"
    )
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["plot", "--gene", "Pdyn", "--ap", "1", "--ml", "1", "--sample", "-o", str(out)])


def test_plot_into_an_existing_folder(tmp_path, capsys):
    """``-o DIR`` writes DIR/<gene>_<plane>.png, not DIR.png beside the folder."""
    folder = tmp_path / "figures"
    folder.mkdir()
    argv = ["plot", "--gene", "Pdyn", "--gene", "Nrp1", "--dv", "-3", "--sample", "--dpi", "40"]
    assert main([*argv, "-o", str(folder)]) == 0
    expected = [folder / "Pdyn_horizontal.png", folder / "Nrp1_horizontal.png"]
    assert capsys.readouterr().out.splitlines() == [str(p) for p in expected]
    assert sorted(folder.iterdir()) == sorted(expected)
    assert not (tmp_path / "figures.png").exists()
    for path in expected:
        assert path.read_bytes().startswith(PNG)
    pictures = [matplotlib.image.imread(p) for p in expected]
    assert not np.array_equal(pictures[0], pictures[1])  # two genes, two pictures


def test_plot_into_a_new_folder_ending_with_a_slash(tmp_path, capsys):
    folder = tmp_path / "new" / "figures"
    argv = ["plot", "--gene", "Pdyn", "--ap", "1", "--sample", "--dpi", "40"]
    assert main([*argv, "-o", f"{folder}/"]) == 0
    assert capsys.readouterr().out.strip() == str(folder / "Pdyn_coronal.png")
    assert (folder / "Pdyn_coronal.png").read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            "{tmp}/new/x.png",
            "The folder '{tmp}/new' of -o '{tmp}/new/x.png' does not exist: create it first "
            "(mkdir -p) or choose another path.",
        ),
        (
            "{tmp}/pdyn",
            "-o '{tmp}/pdyn' has no suffix and is no folder: end it with .png, .pdf or .svg, "
            "or create the folder first (or end it with /).",
        ),
    ],
)
def test_plot_output_is_checked_before_any_work(output, message, tmp_path, capsys):
    # the source does not exist: the output is checked before the data are opened
    output, message = output.format(tmp=tmp_path), message.format(tmp=tmp_path)
    argv = ["plot", "--gene", "Pdyn", "--ap", "1", "--source", str(tmp_path / "nothing")]
    assert main([*argv, "-o", output]) == 1
    assert capsys.readouterr().err == f"agea-xr plot: error: {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_plot_refuses_an_unknown_picture_format_and_several_genes_in_one_file(tmp_path, capsys):
    argv = ["plot", "--gene", "Pdyn", "--ap", "1", "--sample"]
    assert main([*argv, "-o", str(tmp_path / "x.pnj")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("agea-xr plot: error: Unknown picture format 'pnj': choose one of")
    assert "Did you mean 'png'?" in err
    assert main([*argv, "--gene", "Nrp1", "-o", str(tmp_path / "x.png")]) == 1
    assert capsys.readouterr().err == (
        f"agea-xr plot: error: -o '{tmp_path}/x.png' is one file, but 2 genes were given: "
        f"pass a folder (-o {tmp_path}/x/) to write Pdyn_coronal.png and the others into it.\n"
    )
    assert list(tmp_path.iterdir()) == []


# --- demo --------------------------------------------------------------------------------
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


def test_demo_creates_its_output_folder_first(tmp_path, capsys):
    out_dir = tmp_path / "new" / "demo"
    argv = ["demo", "--out-dir", str(out_dir), "--top", "3", "--gene", "Nrp1", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Top 3 Beryl regions by mean Nrp1" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["agea-demo-Nrp1.nc", "agea-demo-Nrp1.png"]
    assert f"with Beryl region boundaries: {out_dir / 'agea-demo-Nrp1.png'}" in out


def test_demo_refuses_a_file_as_out_dir_before_any_work(tmp_path, capsys):
    occupied = tmp_path / "file"
    occupied.write_text("")
    assert main(["demo", "--out-dir", str(occupied)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was computed nor printed
    assert captured.err == (
        f"agea-xr demo: error: --out-dir '{occupied}' exists and is not a folder: "
        "choose a folder.\n"
    )
    assert main(["demo", "--gene", "Pdyn", "--gene", "Nrp1"]) == 1
    assert "The demo ranks the regions of one gene, got 2" in capsys.readouterr().err
