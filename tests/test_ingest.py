"""Ingest: Allen grid zips (real coronal, synthetic sagittal) into the IBL layout or Zarr."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import agea_xr
from agea_xr import layout
from agea_xr.cli import main
from agea_xr.ingest import gene_table, right_hemisphere_voxels
from agea_xr.regions import label_from_allen_ids

#: The real Allen downloads and what the packaged table says of them.
REAL = {
    "Pdyn_P56_coronal_71717084_200um.zip": (71717084, "Pdyn"),
    "Nrp1_P56_coronal_74272479_200um.zip": (74272479, "Nrp1"),
}
ANNOTATION = "P56_Mouse_gridAnnotation.zip"
SAGITTAL_ID = 99000001

MHD = """ObjectType = Image
NDims = 3
BinaryData = True
BinaryDataByteOrderMSB = False
TransformMatrix = 1 0 0 0 1 0 0 0 1
Offset = 0 0 0
CenterOfRotation = 0 0 0
AnatomicalOrientation = RAI
ElementSpacing = 200 200 200
DimSize = 67 41 58
ElementType = MET_FLOAT
ElementDataFile = {name}.raw
"""


def raw_grid(zip_path: Path, name: str = "energy") -> np.ndarray:
    """A grid read straight from the zip with numpy (float32, (ml, dv, ap))."""
    with zipfile.ZipFile(zip_path) as zf:
        data = zf.read(f"{name}.raw")
    return np.frombuffer(data, dtype="<f4").reshape(layout.GRID_SHAPE)


def sagittal_volume(seed: int) -> np.ndarray:
    """Left hemisphere only (i_ml <= 28), -1 elsewhere, like the Allen sagittal grids."""
    rng = np.random.default_rng(seed)
    volume = rng.gamma(1.0, 2.0, size=layout.GRID_SHAPE).astype(np.float32)
    volume[rng.random(layout.GRID_SHAPE) < 0.1] = -1
    volume[layout.LEFT_ML_MAX_INDEX + 1 :] = -1
    volume[3, 4, 5] = 0.0  # a measured zero
    return volume


def write_allen_zip(path: Path, experiment_id: int, volumes: dict[str, np.ndarray]) -> Path:
    """An Allen grid download in the real format: NAME.mhd + NAME.raw + data_set.xml."""
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<section-data-set>\n'
        f"  <id>{experiment_id}</id>\n"
        "  <plane-of-section><id>2</id><name>sagittal</name></plane-of-section>\n"
        "</section-data-set>\n"
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data_set.xml", xml)
        for name, volume in volumes.items():
            zf.writestr(f"{name}.mhd", MHD.format(name=name))
            zf.writestr(f"{name}.raw", volume.astype("<f4").tobytes())
    return path


@pytest.fixture
def real_zips(allen_dir) -> list[Path]:
    return [allen_dir / name for name in REAL]


@pytest.fixture
def sagittal_zip(tmp_path) -> Path:
    volumes = {"energy": sagittal_volume(1), "density": sagittal_volume(2)}
    return write_allen_zip(
        tmp_path / f"Foo_P56_sagittal_{SAGITTAL_ID}_200um.zip", SAGITTAL_ID, volumes
    )


@pytest.fixture
def sagittal_table(tmp_path) -> Path:
    path = tmp_path / "genes.csv"
    rows = [(SAGITTAL_ID, "Foo1*"), *REAL.values()]
    pd.DataFrame(rows, columns=["experiment_id", "gene"]).to_csv(path, index=False)
    return path


# --- the real Allen downloads -------------------------------------------------------
def test_ingest_real_zips_equals_their_raw_files(real_zips, allen_dir, tmp_path):
    out = agea_xr.ingest([*real_zips, allen_dir / ANNOTATION], tmp_path / "agea")
    assert sorted(p.name for p in out.iterdir()) == [
        layout.VARIANTS["raw"],
        layout.TABLE_FILE,
        layout.LABEL_FILE,
    ]
    ds = agea_xr.open_dataset(out, mask_and_scale=False)
    assert ds.experiment.values.tolist() == [i for i, _ in REAL.values()]
    assert ds.gene.values.tolist() == [g for _, g in REAL.values()]
    for k, zip_path in enumerate(real_zips):
        energy = raw_grid(zip_path)
        assert (energy == -1).any() and (energy > 0).any()
        # float16 as the IBL release stores it: the cast of the Allen float32 values
        np.testing.assert_array_equal(ds.expression.values[k], energy.astype(np.float16))
    masked = agea_xr.open_dataset(out)
    first = raw_grid(real_zips[0])
    assert np.isnan(masked.expression.values[0][first == -1]).all()
    # the label comes from the annotation, lateralised as iblatlas' label.npy
    annotation = np.frombuffer(
        zipfile.ZipFile(allen_dir / ANNOTATION).read("gridAnnotation.raw"), dtype="<u4"
    ).reshape(layout.GRID_SHAPE)
    np.testing.assert_array_equal(ds.label.values, label_from_allen_ids(annotation))
    np.testing.assert_array_equal(ds.label.values, agea_xr.open_sample().label.values)
    table = pd.read_parquet(out / layout.TABLE_FILE)
    assert table["plane"].tolist() == ["coronal", "coronal"]
    assert table["id"].tolist() == [str(i) for i, _ in REAL.values()]


def test_ingest_real_zips_equals_the_bundled_sample(real_zips, tmp_path):
    out = agea_xr.ingest(real_zips, tmp_path / "agea")
    ds = agea_xr.open_dataset(out, mask_and_scale=False)
    sample = agea_xr.open_sample(mask_and_scale=False)
    for gene in ("Pdyn", "Nrp1"):
        np.testing.assert_array_equal(
            ds.expression.sel(gene=gene).values, sample.expression.sel(gene=gene).values
        )
    assert "label" not in ds  # no annotation given


def test_ingest_zarr_equals_the_ibl_folder(real_zips, allen_dir, tmp_path):
    zips = [*real_zips, allen_dir / ANNOTATION]
    folder = agea_xr.ingest(zips, tmp_path / "agea")
    store = agea_xr.ingest(zips, tmp_path / "agea.zarr", zarr=True)
    assert store.is_dir() and (store / "zarr.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agea", "agea.zarr"]
    back = agea_xr.open_export(store)
    ds = agea_xr.open_dataset(folder)
    np.testing.assert_array_equal(back.expression.values, ds.expression.values)
    np.testing.assert_array_equal(back.label.values, ds.label.values)
    assert back.gene.values.tolist() == ["Pdyn", "Nrp1"]
    assert back.plane.values.tolist() == ["coronal", "coronal"]
    assert "density" not in back


# --- sagittal, density, tables ----------------------------------------------------
def test_ingest_sagittal_with_density(real_zips, sagittal_zip, sagittal_table, tmp_path):
    out = agea_xr.ingest([real_zips[0], sagittal_zip], tmp_path / "mixed", table=sagittal_table)
    ds = agea_xr.open_dataset(out, mask_and_scale=False)
    assert ds.gene.values.tolist() == ["Pdyn", "Foo1"]  # the trailing '*' removed
    energy = raw_grid(sagittal_zip)
    np.testing.assert_array_equal(ds.expression.values[1], energy.astype(np.float16))
    masked = agea_xr.open_dataset(out).expression.sel(gene="Foo1").values[0]
    right = slice(layout.LEFT_ML_MAX_INDEX + 1, None)
    assert np.isnan(masked[right]).all()
    assert masked[3, 4, 5] == 0
    left = masked[: layout.LEFT_ML_MAX_INDEX + 1]
    assert np.isfinite(left).mean() > 0.85
    # density: a sub-folder in the same layout; the coronal zip has none, so -1
    density = agea_xr.open_dataset(out / "density", mask_and_scale=False)
    assert density.experiment.values.tolist() == ds.experiment.values.tolist()
    assert (density.expression.values[0] == -1).all()
    np.testing.assert_array_equal(
        density.expression.values[1], raw_grid(sagittal_zip, "density").astype(np.float16)
    )
    planes = pd.read_parquet(out / layout.TABLE_FILE)["plane"].tolist()
    assert planes == ["coronal", "sagittal"]
    # and in Zarr: one store with both variables
    store = agea_xr.ingest(
        [real_zips[0], sagittal_zip], tmp_path / "mixed.zarr", table=sagittal_table, zarr=True
    )
    back = agea_xr.open_export(store)
    np.testing.assert_array_equal(
        back.density.values, agea_xr.open_dataset(out / "density").expression.values
    )
    np.testing.assert_array_equal(
        back.expression.values, agea_xr.open_dataset(out).expression.values
    )
    assert back.plane.values.tolist() == ["coronal", "sagittal"]
    assert back.density.attrs["long_name"] == "ISH gene expression density"


def test_sagittal_with_values_on_the_right_warns_and_keeps_them(
    real_zips, sagittal_table, tmp_path
):
    energy = sagittal_volume(1)
    energy[40:43, 10, 20] = [0.0, 1.5, 2.0]  # three measured voxels at x > 0 (a zero too)
    energy[45, 11, 21] = np.nan  # not a measurement
    density = sagittal_volume(2)
    density[50, 5, 5] = 0.25
    wrong = write_allen_zip(
        tmp_path / f"Foo_P56_sagittal_{SAGITTAL_ID}_200um.zip",
        SAGITTAL_ID,
        {"energy": energy, "density": density},
    )
    assert right_hemisphere_voxels(energy) == 3
    expected = (
        rf"Sagittal experiment {SAGITTAL_ID} \({wrong.name}\) has measured values in the right"
        r" hemisphere \(i_ml > 28, x > 0\): 3 energy, 1 density voxel\(s\)"
    )
    with pytest.warns(UserWarning, match=expected) as caught:
        out = agea_xr.ingest([real_zips[0], wrong], tmp_path / "agea", table=sagittal_table)
    assert len(caught) == 1  # the coronal experiment, measured on both sides, is fine
    assert caught[0].filename == __file__  # points at the caller of ingest
    ds = agea_xr.open_dataset(out, mask_and_scale=False)
    # the data are kept as downloaded, not overwritten
    np.testing.assert_array_equal(ds.expression.values[1], energy.astype(np.float16))
    assert ds.expression.values[1][40:43, 10, 20].tolist() == [0.0, 1.5, 2.0]
    density_ds = agea_xr.open_dataset(out / "density", mask_and_scale=False)
    assert density_ds.expression.values[1][50, 5, 5] == 0.25
    with pytest.warns(UserWarning, match=expected):
        agea_xr.ingest([wrong], tmp_path / "agea.zarr", table=sagittal_table, zarr=True)


def test_ingest_needs_a_symbol_for_every_experiment(sagittal_zip, tmp_path):
    with pytest.raises(ValueError, match=rf"{SAGITTAL_ID}.*--table"):
        agea_xr.ingest([sagittal_zip], tmp_path / "out")
    assert list(tmp_path.iterdir()) == [sagittal_zip]


def test_packaged_gene_table_strips_the_asterisk():
    table = gene_table()
    assert len(table) == layout.N_EXPERIMENTS
    assert table["gene"].nunique() == layout.N_GENES
    assert table["experiment"].is_unique
    assert not table["gene"].str.contains(r"\*").any()
    listed = pd.read_csv(Path(agea_xr.__file__).parent / "data" / "coronal_experiments.csv")
    starred = listed[listed["gene"].str.endswith("*")]
    assert len(starred) == 13
    by_id = table.set_index("experiment")["gene"]
    for experiment, symbol in zip(starred["experiment_id"], starred["gene"], strict=True):
        assert by_id[experiment] == symbol[:-1]
    assert by_id[71717084] == "Pdyn"


def test_user_gene_tables(tmp_path):
    tsv = tmp_path / "t.tsv"
    tsv.write_text("id\tsymbol\n12\tSst\n13\tPvalb*\n")
    assert gene_table(tsv).to_dict("list") == {"experiment": [12, 13], "gene": ["Sst", "Pvalb"]}
    pqt = tmp_path / "t.pqt"
    pd.DataFrame({"experiment": ["5"], "gene": ["Gad1"]}).to_parquet(pqt)
    assert gene_table(pqt)["gene"].tolist() == ["Gad1"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value\na,1\n")
    with pytest.raises(ValueError, match="needs an experiment id column"):
        gene_table(bad)
    clash = tmp_path / "clash.csv"
    clash.write_text("experiment_id,gene\n1,A\n1,B\n")
    with pytest.raises(ValueError, match="several symbols"):
        gene_table(clash)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gene_table(tmp_path / "none.csv")


def test_ingest_errors(real_zips, allen_dir, tmp_path):
    with pytest.raises(ValueError, match="more than once"):
        agea_xr.ingest([real_zips[0], real_zips[0]], tmp_path / "dup")
    with pytest.raises(ValueError, match="No Allen grid zips"):
        agea_xr.ingest([], tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="do not exist"):
        agea_xr.ingest([tmp_path / "missing.zip"], tmp_path / "none")
    with pytest.raises(ValueError, match="Only the annotation"):
        agea_xr.ingest([allen_dir / ANNOTATION], tmp_path / "none")
    assert list(tmp_path.iterdir()) == []
    done = agea_xr.ingest(real_zips, tmp_path / "done")
    before = (done / layout.VARIANTS["raw"]).read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        agea_xr.ingest(real_zips[:1], done)
    assert (done / layout.VARIANTS["raw"]).read_bytes() == before
    agea_xr.ingest(real_zips[:1], done, overwrite=True)
    assert agea_xr.open_dataset(done).gene.values.tolist() == ["Pdyn"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert agea_xr.ingest(real_zips[1:], empty) == empty  # an empty folder is used
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done", "empty"]


def test_cli_ingest(real_zips, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["ingest", *map(str, real_zips), str(out), "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}")
    assert agea_xr.open_dataset(out).gene.values.tolist() == ["Pdyn", "Nrp1"]
    assert main(["ingest", *map(str, real_zips), str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    store = tmp_path / "cli.zarr"
    assert main(["ingest", str(real_zips[1]), str(store), "--zarr"]) == 0
    captured = capsys.readouterr()
    assert "ingest" in captured.err  # progress bar
    assert agea_xr.open_export(store).gene.values.tolist() == ["Nrp1"]


# --- refused inputs (each named, nothing written, nothing deleted) ----------------------
def test_density_only_download_is_refused(tmp_path):
    zip_path = write_allen_zip(
        tmp_path / "Foo_P56_sagittal_99000002_200um.zip", 99000002, {"density": sagittal_volume(3)}
    )
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"(?s)No energy grid in 'Foo_P56_sagittal_99000002_200um"
                       r"\.zip' \(density only\).*\?include=energy"):  # fmt: skip
        agea_xr.ingest([zip_path], out)
    assert not out.exists()


def test_output_holding_the_input_zips_is_refused(real_zips, tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    copies = []
    for path in real_zips:
        copies.append(downloads / path.name)
        copies[-1].write_bytes(path.read_bytes())
    before = {p.name: p.read_bytes() for p in copies}
    for out in (downloads, copies[0]):
        with pytest.raises(ValueError, match="holds the input zip.*would delete them"):
            agea_xr.ingest(copies, out, overwrite=True)
    assert {p.name: p.read_bytes() for p in downloads.iterdir()} == before


def _declare_size(zip_path: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size a zip declares for ``member`` (local and central headers)."""
    data = bytearray(zip_path.read_bytes())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                data[start + offset : start + offset + 4] = size.to_bytes(4, "little")
            start += 4
    zip_path.write_bytes(bytes(data))


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    import tracemalloc

    bomb = write_allen_zip(tmp_path / "Foo_P56_coronal_99000003_200um.zip", 99000003, {})
    with zipfile.ZipFile(bomb, "a") as zf:
        zf.writestr("energy.mhd", MHD.format(name="energy"))
        zf.writestr("energy.raw", b"\0" * 64, compress_type=zipfile.ZIP_DEFLATED)
    declared = 1536 * 2**20  # 1.5 GiB
    _declare_size(bomb, "energy.raw", declared)
    assert zipfile.ZipFile(bomb).getinfo("energy.raw").file_size == declared
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=rf"energy\.raw' declares {declared:,} bytes"):
            agea_xr.ingest([bomb], tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # nothing near 1.5 GiB was allocated
    assert not (tmp_path / "out").exists()


def test_truncated_data_set_xml_names_the_zip(tmp_path):
    zip_path = tmp_path / "Foo_P56_coronal_99000004_200um.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("data_set.xml", '<?xml version="1.0"?>\n<section-data-set>\n  <id>9900')
        zf.writestr("energy.mhd", MHD.format(name="energy"))
        zf.writestr("energy.raw", sagittal_volume(4).astype("<f4").tobytes())
    with pytest.raises(ValueError, match=r"Foo_P56_coronal_99000004_200um\.zip'.*not valid XML"):
        agea_xr.ingest([zip_path], tmp_path / "out")


def test_one_zip_path_is_one_zip(real_zips, tmp_path):
    for one in (str(real_zips[0]), real_zips[0]):  # never the characters of the path
        out = agea_xr.ingest(one, tmp_path / f"one-{type(one).__name__}")
        assert agea_xr.open_dataset(out).gene.values.tolist() == ["Pdyn"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("71717084.5,Pdyn", "row 0 holds '71717084.5', which is not a whole number"),
        ("99999999999999999999,Pdyn", "which is beyond the 64-bit integer range"),
    ],
)
def test_gene_table_ids_are_never_truncated(tmp_path, rows, message):
    path = tmp_path / "genes.csv"
    path.write_text(f"experiment_id,gene\n{rows}\n")
    with pytest.raises(ValueError, match=message):
        gene_table(path)


def test_gene_table_not_utf8_is_named(tmp_path):
    path = tmp_path / "genes.csv"
    path.write_bytes("experiment_id,gene\n71717084,Pdyn\n74272479,Nrp1é\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"genes\.csv' is not UTF-8 text.*save it as UTF-8"):
        gene_table(path)
