"""The Dataset: values, coordinates, laziness, decoding, pickling and errors."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout
from agea_xr.dataset import CHUNK_EXPERIMENTS
from agea_xr.reader import ExperimentFile
from agea_xr.testing import synthetic_genes, synthetic_values

from .conftest import N_SYNTHETIC


def decoded(raw: np.ndarray) -> np.ndarray:
    out = raw.astype(np.float32)
    out[raw == -1] = np.nan
    return out


class CountingReads:
    """Spy on ExperimentFile.read: how many experiments were read."""

    def __init__(self, monkeypatch):
        self.experiments = 0
        self.calls = 0
        original = ExperimentFile.read

        def read(obj, start, stop):
            self.calls += 1
            self.experiments += stop - start
            return original(obj, start, stop)

        monkeypatch.setattr(ExperimentFile, "read", read)


# --- values and indexing ------------------------------------------------------------
@pytest.mark.parametrize("chunks", [None, {}, "default"])
def test_whole_array_equals_numpy(synthetic_dir, synthetic_raw, chunks):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    ds = agea_xr.open_dataset(synthetic_dir, **kwargs)
    assert ds.expression.dtype == np.float32
    np.testing.assert_array_equal(ds.expression.values, decoded(synthetic_raw))


def test_synthetic_file_is_what_the_generator_says(synthetic_raw):
    np.testing.assert_array_equal(synthetic_raw, synthetic_values(0, N_SYNTHETIC))
    assert (synthetic_raw == -1).any()
    assert np.unique(synthetic_raw[:, 10, 10, 10]).size > 1


KEYS = [
    3,
    -1,
    slice(2, 9),
    slice(1, 11, 3),
    slice(None, None, -2),
    [4, 0, 7],
    [9, 5, 5, 1],
    np.array([11, 2]),
]


@pytest.mark.parametrize("chunks", [None, "default"])
@pytest.mark.parametrize("axis", range(4))
@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_indexing_parity(synthetic_dir, synthetic_raw, chunks, axis, key):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    da = agea_xr.open_dataset(synthetic_dir, **kwargs).expression
    full = [slice(None)] * 4
    full[axis] = key
    expected = decoded(synthetic_raw)[tuple(full)] if not isinstance(key, list) else None
    if isinstance(key, list):
        expected = np.take(decoded(synthetic_raw), key, axis=axis)
    np.testing.assert_array_equal(da[tuple(full)].values, expected)


@pytest.mark.parametrize("chunks", [None, "default"])
def test_outer_indexing_on_several_dims(synthetic_dir, synthetic_raw, chunks):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    da = agea_xr.open_dataset(synthetic_dir, **kwargs).expression
    got = da.isel(experiment=[5, 1, 8], ml=[40, 3], dv=slice(2, 30, 7), ap=[-1, 0]).values
    ref = decoded(synthetic_raw)[np.ix_([5, 1, 8], [40, 3], range(2, 30, 7), [66, 0])]
    np.testing.assert_array_equal(got, ref)


def test_coordinate_selection(synthetic_dir, synthetic_raw):
    ds = agea_xr.open_dataset(synthetic_dir)
    got = ds.expression.sel(ap=-2.0e-3, method="nearest")
    i_ap = round((5400 + 2000) / 200)  # 37
    assert got.ap.item() == pytest.approx(-2.0e-3, abs=1e-12)
    np.testing.assert_array_equal(got.values, decoded(synthetic_raw)[..., i_ap])
    point = ds.expression.sel(ml=1.0e-3, dv=-3.0e-3, ap=0.0, method="nearest")
    i_ml, i_dv, i_ap = round((1000 + 5739) / 200), round((332 + 3000) / 200), 27
    np.testing.assert_array_equal(point.values, decoded(synthetic_raw)[:, i_ml, i_dv, i_ap])


# --- genes ---------------------------------------------------------------------
def test_gene_selection_returns_every_experiment(synthetic_dir, synthetic_raw):
    ds = agea_xr.open_dataset(synthetic_dir)
    ids, genes = synthetic_genes(N_SYNTHETIC)
    positions = np.flatnonzero(genes == "Gene0002")
    assert positions.tolist() == [2, 3]
    got = ds.expression.sel(gene="Gene0002")
    assert got.experiment.values.tolist() == ids[positions].tolist()
    np.testing.assert_array_equal(got.values, decoded(synthetic_raw)[positions])
    single = ds.expression.sel(gene="Pdyn")  # one experiment: the dimension stays
    assert single.dims == layout.DIMS
    assert single.sizes["experiment"] == 1
    several = ds.sel(gene=["Pdyn", "Gene0005"])
    assert several.gene.values.tolist() == ["Pdyn", "Gene0005", "Gene0005"]
    assert several.experiment.values.tolist() == ids[[1, 5, 6]].tolist()


def test_unknown_gene_names_close_matches(synthetic_dir):
    ds = agea_xr.open_dataset(synthetic_dir)
    with pytest.raises(KeyError, match=r"'pdyn' is not in this dataset.*Closest matches: Pdyn"):
        ds.sel(gene="pdyn")
    with pytest.raises(ValueError, match="gene symbols have no order"):
        ds.sel(gene=slice("A", "B"))


def test_experiment_coordinate(synthetic_dir):
    ds = agea_xr.open_dataset(synthetic_dir)
    ids, genes = synthetic_genes(N_SYNTHETIC)
    assert ds.experiment.dtype == np.int64
    assert ds.experiment.values.tolist() == ids.tolist()
    assert ds.gene.values.tolist() == genes.tolist()
    assert ds.sel(experiment=int(ids[4])).gene.item() == genes[4]


# --- decoding -----------------------------------------------------------------
def test_mask_off_gives_raw_float16(synthetic_dir, synthetic_raw):
    da = agea_xr.open_dataset(synthetic_dir, mask_and_scale=False).expression
    assert da.dtype == np.float16
    got = da.values
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got.view(np.uint16), synthetic_raw.view(np.uint16))
    assert (got == -1).sum() == (synthetic_raw == -1).sum() > 0


def test_processed_variant_is_float32_and_not_masked(synthetic_dir):
    ds = agea_xr.open_dataset(synthetic_dir, variant="processed")
    raw = synthetic_values(0, N_SYNTHETIC, processed=True)
    assert ds.attrs["variant"] == "processed"
    assert ds.expression.dtype == np.float32
    got = ds.expression.values
    assert not np.isnan(got).any()
    assert (got == -1).sum() == (raw == -1).sum() > 0  # -1 is a value here, not a sentinel
    np.testing.assert_array_equal(got, raw.astype(np.float32))


def test_reductions_are_float32_and_nan_aware(synthetic_dir, synthetic_raw):
    ds = agea_xr.open_dataset(synthetic_dir)
    mean = ds.expression.mean("experiment")
    assert mean.dtype == np.float32
    ref = np.nanmean(decoded(synthetic_raw).astype(np.float64), axis=0)
    np.testing.assert_allclose(mean.values, ref, rtol=1e-6)


# --- laziness -------------------------------------------------------------------
def test_open_reads_no_expression(synthetic_dir, monkeypatch):
    spy = CountingReads(monkeypatch)
    with dask.config.set(scheduler="sync"):
        ds = agea_xr.open_dataset(synthetic_dir)
        da = ds.expression.sel(gene="Gene0002").isel(ml=slice(0, 3))
    assert spy.calls == 0
    assert isinstance(da.data, dask.array.Array)


def test_lazy_sel_reads_only_needed_experiments(synthetic_dir, monkeypatch):
    spy = CountingReads(monkeypatch)
    ds = agea_xr.open_dataset(synthetic_dir, chunks=None)
    ds.expression.sel(gene="Gene0005").values
    assert spy.experiments == 2
    assert spy.calls == 1  # experiments 5 and 6 are one contiguous byte range
    ds.expression.isel(experiment=[0, 11]).values
    assert spy.experiments == 4
    assert spy.calls == 3


def test_gene_selection_with_dask_reads_only_that_gene(tmp_path, monkeypatch):
    from agea_xr.testing import write_synthetic

    big = write_synthetic(tmp_path / "big", 70, image=False)
    ds = agea_xr.open_dataset(big)  # default: 32-experiment dask chunks
    spy = CountingReads(monkeypatch)
    ds.expression.sel(gene="Pdyn").values  # one experiment
    assert spy.experiments == 1
    ds.expression.sel(gene="Gene0041").values  # experiments 41 and 42
    assert spy.experiments == 3


def test_dask_chunks_are_experiment_aligned(synthetic_dir, tmp_path):
    from agea_xr.testing import write_synthetic

    big = write_synthetic(tmp_path / "big", 70, image=False)
    ds = agea_xr.open_dataset(big)
    assert ds.expression.chunks == (
        (CHUNK_EXPERIMENTS, CHUNK_EXPERIMENTS, 70 - 2 * CHUNK_EXPERIMENTS),
        (58,),
        (41,),
        (67,),
    )
    via_xarray = xr.open_dataset(big, engine="agea", chunks={})
    assert via_xarray.expression.chunks == ds.expression.chunks
    assert "dask" not in str(type(xr.open_dataset(big, engine="agea").expression.variable._data))


# --- pickling and distributed ----------------------------------------------------
@pytest.mark.parametrize("chunks", [None, "default"])
def test_pickle_is_small_and_roundtrips(synthetic_dir, synthetic_raw, chunks):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    ds = agea_xr.open_dataset(synthetic_dir, **kwargs)
    blob = pickle.dumps(ds)
    # label (319 kB) and image (637 kB) are in memory; the 1.9 MB binary is not.
    assert len(blob) < 1_200_000
    assert len(pickle.dumps(ds.drop_vars(["label", "image"]))) < 20_000
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.expression.values, decoded(synthetic_raw))


def test_distributed_reduction(synthetic_dir, synthetic_raw):
    distributed = pytest.importorskip("distributed")
    ds = agea_xr.open_dataset(synthetic_dir)
    ref = np.nanmax(decoded(synthetic_raw), axis=(1, 2, 3))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        got = ds.expression.max(("ml", "dv", "ap")).compute()
    np.testing.assert_array_equal(got.values, ref)


# --- coordinates against iblatlas --------------------------------------------------
def test_coordinates_equal_iblatlas(synthetic_dir):
    from iblatlas import atlas

    ds = agea_xr.open_dataset(synthetic_dir)
    ba = atlas.BrainAtlas(
        image=ds.image.values,
        label=ds.label.values,
        dxyz=200 / 1e6 * np.array([1, -1, -1]),
        regions=atlas.BrainRegions(),
        iorigin=atlas.ALLEN_CCF_LANDMARKS_MLAPDV_UM["bregma"] / 200 + np.array([0, 0, 0]),
        dims2xyz=[0, 2, 1],
        xyz2dims=[0, 2, 1],
    )
    np.testing.assert_allclose(ds.ml.values, ba.bc.xscale, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds.ap.values, ba.bc.yscale, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds.dv.values, ba.bc.zscale, rtol=0, atol=1e-12)
    for dim in ("ml", "dv", "ap"):
        assert ds[dim].dtype == np.float64
        assert ds[dim].attrs["units"] == "m"
        assert {"long_name", "axis"} <= set(ds[dim].attrs)
    assert ds.ap.values[0] > ds.ap.values[-1] and ds.dv.values[0] > ds.dv.values[-1]
    np.testing.assert_array_equal(ds.label.values, ba.label)


def test_attributes(synthetic_dir):
    ds = agea_xr.open_dataset(synthetic_dir)
    assert ds.attrs["variant"] == "raw"
    assert ds.attrs["data_version"] == "2025-03-18"
    assert ds.attrs["voxel_size_um"] == 200.0
    assert "Lein" in ds.attrs["citation"] and "Ng" in ds.attrs["citation"]
    assert "International Brain Laboratory" in ds.attrs["citation"]
    assert ds.attrs["source"] == str(synthetic_dir)


# --- errors ----------------------------------------------------------------------
@pytest.fixture
def broken_dir(synthetic_dir, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(synthetic_dir, folder)
    return folder


def test_truncated_binary_is_refused_before_reading(broken_dir):
    binary = broken_dir / layout.VARIANTS["raw"]
    with open(binary, "r+b") as f:
        f.truncate(N_SYNTHETIC * layout.VOLUME_BYTES - 10)
    expected = f"{N_SYNTHETIC * layout.VOLUME_BYTES:,}"
    with pytest.raises(ValueError, match=rf"gene-expression.bin' has .*exactly {expected} bytes"):
        agea_xr.open_dataset(broken_dir)


def test_missing_binary(broken_dir):
    (broken_dir / layout.VARIANTS["processed"]).unlink()
    with pytest.raises(FileNotFoundError, match=r"processed.*download\(variant='processed'\)"):
        agea_xr.open_dataset(broken_dir, variant="processed")


def test_missing_table(broken_dir):
    (broken_dir / layout.TABLE_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="No experiment table 'gene-expression.pqt'"):
        agea_xr.open_dataset(broken_dir)


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*open_sample\(\)"):
        agea_xr.open_dataset(tmp_path / "nope")


def test_unreadable_table(broken_dir):
    (broken_dir / layout.TABLE_FILE).write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="as parquet"):
        agea_xr.open_dataset(broken_dir)


def test_table_without_gene_column(broken_dir):
    pd.DataFrame({"id": ["1"] * N_SYNTHETIC}).to_parquet(broken_dir / layout.TABLE_FILE)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['gene'\]"):
        agea_xr.open_dataset(broken_dir)


def test_table_with_repeated_ids(broken_dir):
    ids = [str(70000000 + i % 5) for i in range(N_SYNTHETIC)]
    pd.DataFrame({"id": ids, "gene": ["x"] * N_SYNTHETIC}).to_parquet(
        broken_dir / layout.TABLE_FILE
    )
    with pytest.raises(ValueError, match="Experiment ids repeat"):
        agea_xr.open_dataset(broken_dir)


def test_wrong_label_shape(broken_dir):
    np.save(broken_dir / layout.LABEL_FILE, np.zeros((58, 41, 66), dtype=np.int16))
    with pytest.raises(ValueError, match=r"label.npy' has shape \(58, 41, 66\).*\(58, 41, 67\)"):
        agea_xr.open_dataset(broken_dir)


def test_unknown_variant(synthetic_dir):
    expected = r"Unknown variant 'proc': choose one of 'raw', 'processed'\. Did you mean"
    with pytest.raises(ValueError, match=expected):
        agea_xr.open_dataset(synthetic_dir, variant="proc")


def test_read_past_end_is_an_error(synthetic_dir):
    f = ExperimentFile(synthetic_dir / layout.VARIANTS["raw"], N_SYNTHETIC + 1)
    with pytest.raises(OSError, match="ended early"):
        f.read(N_SYNTHETIC - 1, N_SYNTHETIC + 1)
    with pytest.raises(IndexError, match="outside"):
        f.read(0, N_SYNTHETIC + 2)


def test_missing_cache_says_how_to_download():
    with pytest.raises(FileNotFoundError, match=r"agea_xr.download\(variant='raw'\)"):
        agea_xr.open_dataset()


# --- backend ----------------------------------------------------------------------
def test_engine_is_registered_and_guesses_only_our_layout(synthetic_dir, tmp_path):
    from agea_xr.backend import AgeaBackendEntrypoint

    assert "agea" in xr.backends.list_engines()
    entry = AgeaBackendEntrypoint()
    assert entry.guess_can_open(synthetic_dir)
    assert entry.guess_can_open(str(synthetic_dir))
    assert not entry.guess_can_open(tmp_path)
    assert not entry.guess_can_open(synthetic_dir / layout.TABLE_FILE)
    assert not entry.guess_can_open("s3://bucket/agea")
    ds = xr.open_dataset(synthetic_dir)  # found by guess_can_open
    assert ds.attrs["title"].startswith("Allen Gene Expression Atlas")
    assert "image" not in xr.open_dataset(synthetic_dir, drop_variables=["image"])


def test_backend_import_is_cheap():
    code = (
        "import sys, agea_xr.backend; "
        "print(','.join(m for m in ('s3fs', 'iblatlas', 'zarr', 'matplotlib', 'distributed',"
        " 'numba') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_any_experiment_chunking_is_accepted_silently(synthetic_dir, synthetic_raw):
    ds = agea_xr.open_dataset(synthetic_dir, chunks={"experiment": 5})
    assert ds.expression.chunks[0] == (5, 5, 2)
    np.testing.assert_array_equal(ds.expression.values, decoded(synthetic_raw))


@pytest.mark.parametrize("mask", [True, False])
@pytest.mark.parametrize("chunks", [None, "default"])
def test_scalar_selection_is_zero_dimensional(synthetic_dir, synthetic_raw, mask, chunks):
    kwargs = {} if chunks == "default" else {"chunks": chunks}
    da = agea_xr.open_dataset(synthetic_dir, mask_and_scale=mask, **kwargs).expression
    expected = decoded(synthetic_raw) if mask else synthetic_raw
    value = da[4, 10, 20, 30].values
    assert value.shape == ()
    np.testing.assert_array_equal(value, expected[4, 10, 20, 30])
    point = da.sel(ml=0.0, dv=-2.0e-3, ap=-1.0e-3, method="nearest").isel(experiment=7)
    i_ml, i_dv, i_ap = round(5739 / 200), round(2332 / 200), round(6400 / 200)
    assert point.shape == ()
    np.testing.assert_array_equal(float(point), expected[7, i_ml, i_dv, i_ap])
    missing = np.argwhere(synthetic_raw[7] == -1)[0]
    np.testing.assert_array_equal(da[(7, *missing)].values, expected[(7, *missing)])


def test_file_instead_of_folder(synthetic_dir):
    with pytest.raises(NotADirectoryError, match=r"is a file; pass the folder that holds it"):
        agea_xr.open_dataset(synthetic_dir / layout.VARIANTS["raw"])


def test_size_error_counts_the_missing_bytes(broken_dir):
    with open(broken_dir / layout.VARIANTS["raw"], "r+b") as f:
        f.truncate(N_SYNTHETIC * layout.VOLUME_BYTES - 2)
    with pytest.raises(ValueError, match=r"-2 bytes; the file holds 11 whole volumes and 318,650"):
        agea_xr.open_dataset(broken_dir)


def test_table_with_missing_gene_symbol(broken_dir):
    ids, genes = synthetic_genes(N_SYNTHETIC)
    genes = genes.copy()
    genes[5] = None
    pd.DataFrame({"id": ids.astype(str), "gene": genes}).to_parquet(broken_dir / layout.TABLE_FILE)
    with pytest.raises(ValueError, match=rf"no gene symbol in row\(s\) \[5\].*{ids[5]}"):
        agea_xr.open_dataset(broken_dir)


def test_mask_and_scale_must_be_a_bool(synthetic_dir):
    with pytest.raises(TypeError, match="mask_and_scale must be True or False, not 'no'"):
        agea_xr.open_dataset(synthetic_dir, mask_and_scale="no")


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_an_export_given_to_open_dataset_points_to_open_export(tmp_path, suffix):
    path = agea_xr.export(agea_xr.open_sample(), tmp_path / f"pdyn{suffix}", genes="Pdyn")
    with pytest.raises(ValueError, match=r"is an agea-xr export .*agea_xr.open_export\(path\)"):
        agea_xr.open_dataset(path)
    assert str(agea_xr.open_export(path).gene.values[0]) == "Pdyn"


def test_sample_has_only_the_raw_variant():
    with pytest.raises(ValueError, match="only the 'raw' variant.*not 'processed'"):
        agea_xr.open_sample(variant="processed")
