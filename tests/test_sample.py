"""The bundled sample and the Allen grid reader, against the real Allen downloads."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import agea_xr
from agea_xr import layout
from agea_xr.allen import read_annotation, read_grid, read_mhd
from agea_xr.regions import brain_regions, region_ids

ROOT = Path(__file__).resolve().parents[1]
ZIPS = {
    "Pdyn": ("Pdyn_P56_coronal_71717084_200um.zip", 71717084),
    "Nrp1": ("Nrp1_P56_coronal_74272479_200um.zip", 74272479),
}


def energy_raw(allen_dir: Path, gene: str) -> np.ndarray:
    """energy.raw read straight from the zip with numpy, as the Allen README says."""
    with zipfile.ZipFile(allen_dir / ZIPS[gene][0]) as zf:
        return np.frombuffer(zf.read("energy.raw"), dtype="<f4").reshape(layout.GRID_SHAPE)


def annotation_raw(allen_dir: Path) -> np.ndarray:
    with zipfile.ZipFile(allen_dir / "P56_Mouse_gridAnnotation.zip") as zf:
        return np.frombuffer(zf.read("gridAnnotation.raw"), dtype="<u4").reshape(layout.GRID_SHAPE)


@pytest.mark.parametrize("gene", ["Pdyn", "Nrp1"])
def test_read_grid_equals_raw_file(allen_dir, gene):
    grid = read_grid(allen_dir / ZIPS[gene][0])
    assert grid.experiment_id == ZIPS[gene][1]
    assert grid.plane == "coronal"
    assert list(grid.volumes) == ["energy"]
    np.testing.assert_array_equal(grid.volumes["energy"], energy_raw(allen_dir, gene))
    assert (grid.volumes["energy"] == -1).any()


def test_read_annotation(allen_dir):
    ann = read_annotation(allen_dir / "P56_Mouse_gridAnnotation.zip")
    np.testing.assert_array_equal(ann, annotation_raw(allen_dir))
    assert np.count_nonzero(ann) == 62529
    assert np.unique(ann[ann > 0]).size == 649


@pytest.mark.parametrize("gene", ["Pdyn", "Nrp1"])
def test_sample_values_are_energy_cast_to_float16_bit_for_bit(allen_dir, gene):
    ds = agea_xr.open_sample(mask_and_scale=False)
    got = ds.expression.sel(gene=gene).values[0]
    expected = energy_raw(allen_dir, gene).astype(np.float16)
    np.testing.assert_array_equal(got.view(np.uint16), expected.view(np.uint16))
    decoded = agea_xr.open_sample().expression.sel(gene=gene).values[0]
    np.testing.assert_array_equal(np.isnan(decoded), energy_raw(allen_dir, gene) == -1)


def test_sample_table():
    ds = agea_xr.open_sample()
    assert ds.experiment.values.tolist() == [71717084, 74272479]
    assert ds.gene.values.tolist() == ["Pdyn", "Nrp1"]


def test_sample_label_maps_back_to_allen_ids(allen_dir):
    ds = agea_xr.open_sample()
    br = brain_regions()
    ids = br.id[ds.label.values]
    ann = annotation_raw(allen_dir).astype(np.int64)
    np.testing.assert_array_equal(np.abs(ids), ann)
    left = np.arange(58) <= layout.LEFT_ML_MAX_INDEX
    assert (ids[left][ann[left] > 0] < 0).all()
    assert (ids[~left][ann[~left] > 0] > 0).all()
    # non-lateralised mapping gives the Allen ids in both hemispheres
    np.testing.assert_array_equal(region_ids(ds.label.values, "Allen"), ann)
    assert np.count_nonzero(ds.label.values) == 62529


def test_build_sample_is_reproducible(allen_dir, tmp_path):
    out = tmp_path / "sample"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_sample.py"), str(allen_dir), str(out)],
        check=True,
        capture_output=True,
    )
    for path in agea_xr.sample_path().iterdir():
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name


def test_read_mhd_errors():
    header = "DimSize = 2 2 1\nElementType = MET_FLOAT\n"
    with pytest.raises(ValueError, match="needs 16 bytes, the raw file has 8"):
        read_mhd(header, b"\0" * 8, where="x.mhd")
    with pytest.raises(ValueError, match="ElementType 'MET_WEIRD'"):
        read_mhd("DimSize = 1 1 1\nElementType = MET_WEIRD\n", b"\0", where="x.mhd")
    with pytest.raises(ValueError, match="has no DimSize"):
        read_mhd("ElementType = MET_FLOAT\n", b"", where="x.mhd")
    big = read_mhd(
        "DimSize = 2 1 1\nElementType = MET_SHORT\nBinaryDataByteOrderMSB = True\n",
        b"\x00\x01\x01\x00",
    )
    assert big.tolist() == [[[1, 256]]]


def test_read_grid_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_grid(tmp_path / "missing.zip")
    (tmp_path / "bad.zip").write_bytes(b"nope")
    with pytest.raises(ValueError, match="is not a zip file"):
        read_grid(tmp_path / "bad.zip")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="holds no energy/density/intensity grid"):
        read_grid(tmp_path / "empty.zip")
