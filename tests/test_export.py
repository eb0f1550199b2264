"""Export: netCDF and Zarr round trips, default encodings, subsets, safe writes, CLI."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys

import dask
import fsspec
import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout
from agea_xr._files import safe_write
from agea_xr.encoding import netcdf_attr, netcdf_encoding
from agea_xr.export import subset
from agea_xr.formats import format_of
from agea_xr.gene_index import drop_gene_index
from agea_xr.reader import ExperimentFile
from agea_xr.regions import brain_regions, region_ids, sel_region
from agea_xr.testing import synthetic_values, write_synthetic

from .conftest import N_SYNTHETIC

ENGINES = ("netcdf4", "h5netcdf")


def decoded(raw: np.ndarray) -> np.ndarray:
    out = raw.astype(np.float32)
    out[raw == -1] = np.nan
    return out


def read_with_netcdf4(path) -> dict:
    """Read a file with the netCDF-C based netCDF4 package, in a subprocess.

    netCDF-C crashes (SIGABRT) on float16 variables, which would kill pytest itself.
    """
    code = (
        "import json, sys, netCDF4\n"
        "f = netCDF4.Dataset(sys.argv[1])\n"
        "v = f['expression']\n"
        "print(json.dumps({'dtype': str(v.dtype), 'chunking': v.chunking(),"
        " 'filters': v.filters(), 'sum': float(v[:].filled(0).astype('f8').sum()),"
        " 'gene': [str(g) for g in f['gene'][:]], 'citation': f.citation}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"netCDF4 could not read {path}: {done.stderr[-500:]}"
    return json.loads(done.stdout)


@pytest.fixture(params=[True, False], ids=["mask", "nomask"])
def masked(request) -> bool:
    return request.param


@pytest.fixture
def ds(synthetic_dir, masked) -> xr.Dataset:
    return agea_xr.open_dataset(synthetic_dir, mask_and_scale=masked)


def expected(raw: np.ndarray, masked: bool) -> np.ndarray:
    return decoded(raw) if masked else raw


# --- plain to_netcdf with the default encoding ----------------------------------------
def test_default_encoding_is_lossless_float32(synthetic_dir):
    for mask in (True, False):
        enc = agea_xr.open_dataset(synthetic_dir, mask_and_scale=mask).expression.encoding
        assert enc["dtype"] == np.float32
        assert enc["chunksizes"] == (1, *layout.GRID_SHAPE)
        assert enc["zlib"] is True and enc["shuffle"] is True
        assert np.isnan(enc["_FillValue"])
        # the encoding keeps what the backend put there
        assert enc["preferred_chunks"][layout.EXPERIMENT] == 32
        assert enc["source"].endswith(layout.VARIANTS["raw"])


@pytest.mark.parametrize("engine", ENGINES)
def test_plain_to_netcdf_round_trips(ds, masked, synthetic_raw, tmp_path, engine):
    path = tmp_path / "plain.nc"
    ds.to_netcdf(path, engine=engine)
    with xr.open_dataset(path, engine=engine) as back:
        assert back.expression.dtype == np.float32
        np.testing.assert_array_equal(back.expression.values, expected(synthetic_raw, masked))
        np.testing.assert_array_equal(back.label.values, ds.label.values)
        np.testing.assert_array_equal(back.image.values, ds.image.values)
        assert back.gene.values.tolist() == ds.gene.values.tolist()
        np.testing.assert_array_equal(back.experiment.values, ds.experiment.values)
        for dim in ("ml", "dv", "ap"):
            np.testing.assert_array_equal(back[dim].values, ds[dim].values)
            assert back[dim].attrs == ds[dim].attrs
        assert back.attrs == ds.attrs
        assert back.expression.attrs == ds.expression.attrs
    info = read_with_netcdf4(path)
    assert info["dtype"] == "float32"
    assert info["chunking"] == [1, *layout.GRID_SHAPE]
    assert info["filters"]["zlib"] and info["filters"]["shuffle"]
    assert info["citation"] == layout.CITATION
    assert info["gene"] == ds.gene.values.tolist()
    values = expected(synthetic_raw, masked).astype(np.float64)
    assert info["sum"] == pytest.approx(np.nansum(values), rel=1e-9)


def test_h5netcdf_without_our_encoding_writes_float16(synthetic_dir, tmp_path):
    # the failure our encoding prevents: h5netcdf silently stores half floats
    import h5py

    ds = agea_xr.open_dataset(synthetic_dir, mask_and_scale=False)
    ds.expression.encoding = {}
    ds.to_netcdf(tmp_path / "bad.nc", engine="h5netcdf")
    with h5py.File(tmp_path / "bad.nc") as f:
        assert f["expression"].dtype == np.float16
    agea_xr.export(ds, tmp_path / "good.nc", engine="h5netcdf")
    with h5py.File(tmp_path / "good.nc") as f:
        assert f["expression"].dtype == np.float32


def test_netcdf_encoding_never_float16():
    ds = xr.Dataset({"v": (("a", "b"), np.zeros((2, 2), np.float16))})
    assert netcdf_encoding(ds)["v"]["dtype"] == np.float32


# --- export: netCDF -----------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_export_netcdf_round_trip_and_agea_works_after(
    ds, masked, synthetic_raw, tmp_path, engine
):
    path = agea_xr.export(ds, tmp_path / "all.nc", engine=engine)
    assert path == tmp_path / "all.nc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.nc"]
    back = agea_xr.open_export(path)
    # mask=False data too: the file holds NaN for missing values, as any export
    np.testing.assert_array_equal(back.expression.values, decoded(synthetic_raw))
    assert back.attrs["citation"] == layout.CITATION
    assert back.gene.dtype == object
    # the gene index is back: every experiment of a repeated gene
    assert back.expression.sel(gene="Gene0002").experiment.values.tolist() == (
        ds.expression.sel(gene="Gene0002").experiment.values.tolist()
    )
    assert len(back.expression.sel(gene="Gene0002").experiment) == 2
    # plain xarray reopening: .agea works as on the original
    plain = xr.open_dataset(path, engine=engine)
    reference = agea_xr.open_dataset(ds.attrs["source"])  # decoded, as the file is
    for reopened in (back, plain):
        xr.testing.assert_equal(reopened.agea.gene("Gene0002"), reference.agea.gene("Gene0002"))
        xr.testing.assert_equal(reopened.agea.regions("Beryl"), reference.agea.regions("Beryl"))
        xr.testing.assert_equal(
            reopened.agea.region_mask("CA1").drop_attrs(), ds.agea.region_mask("CA1").drop_attrs()
        )
    plain.close()
    assert read_with_netcdf4(path)["dtype"] == "float32"


def test_export_netcdf_refuses_float16(synthetic_dir, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    with pytest.raises(ValueError, match="netCDF has no float16"):
        agea_xr.export(ds, tmp_path / "x.nc", dtype="float16")
    assert not any(tmp_path.iterdir())


def test_netcdf_attributes_are_made_storable(synthetic_dir, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    ds.attrs.update(nothing=None, settings={"mapping": "Allen", "n": 2}, flag=True)
    ds.expression.attrs["regions"] = {"CA1", "CA3"}
    agea_xr.export(ds, tmp_path / "a.nc")
    with xr.open_dataset(tmp_path / "a.nc") as back:
        assert "nothing" not in back.attrs
        assert json.loads(back.attrs["settings"]) == {"mapping": "Allen", "n": 2}
        assert back.attrs["flag"] == 1
        assert list(back.expression.attrs["regions"]) == ["CA1", "CA3"]
    assert ds.attrs["nothing"] is None  # the dataset itself is not changed
    assert netcdf_attr([1, "a"]) == '[1, "a"]'


# --- export: Zarr -------------------------------------------------------------------
def test_export_zarr_round_trip_is_exact_and_float32_everywhere(
    ds, masked, synthetic_raw, tmp_path
):
    import zarr

    path = agea_xr.export(ds, tmp_path / "all.zarr")
    array = zarr.open_array(str(path / "expression"), mode="r")
    assert array.dtype == np.float32
    assert array.chunks == (1, *layout.GRID_SHAPE)
    assert array.shards == (N_SYNTHETIC, *layout.GRID_SHAPE)  # one shard: 12 < 32
    assert "zstd" in str(array.compressors[0])
    back = agea_xr.open_export(path)
    assert back.expression.dtype == np.float32
    assert back.expression.chunks[0] == (N_SYNTHETIC,)
    # mask=False data too: NaN, not -1, in open_export and in plain xarray
    np.testing.assert_array_equal(back.expression.values, decoded(synthetic_raw))
    np.testing.assert_array_equal(back.label.values, ds.label.values)
    np.testing.assert_array_equal(back.image.values, ds.image.values)
    assert {k: v for k, v in back.attrs.items() if k != "history"} == ds.attrs
    assert back.attrs["history"].endswith("agea-xr 0.1.0: export to Zarr all.zarr")
    assert back.expression.attrs == agea_xr.open_dataset(ds.attrs["source"]).expression.attrs
    assert back.ml.attrs == ds.ml.attrs
    assert back.gene.values.tolist() == ds.gene.values.tolist()
    reference = agea_xr.open_dataset(ds.attrs["source"])  # decoded, as the store is
    xr.testing.assert_equal(back.agea.gene("Pdyn"), reference.agea.gene("Pdyn"))
    # plain xarray: float32 with NaN, and a reduction over one experiment is
    # numpy's (float16 would sum to inf in dask)
    plain = xr.open_zarr(path)
    assert plain.expression.dtype == np.float32
    values = decoded(synthetic_raw)
    np.testing.assert_array_equal(plain.expression.values, values)
    one = plain.expression.isel(experiment=3)
    assert float(one.sum()) == pytest.approx(np.nansum(values[3].astype(np.float64)), rel=1e-6)
    assert float(one.mean()) == pytest.approx(np.nanmean(values[3].astype(np.float64)), rel=1e-6)
    assert np.isfinite(float(one.sum()))


def test_compact_float16_zarr_on_request(ds, masked, synthetic_raw, tmp_path):
    import zarr

    path = agea_xr.export(ds, tmp_path / "c.zarr", dtype="float16")
    assert zarr.open_array(str(path / "expression"), mode="r").dtype == np.float16
    back = agea_xr.open_export(path)
    assert back.expression.dtype == np.float32
    np.testing.assert_array_equal(back.expression.values, decoded(synthetic_raw))
    stored = agea_xr.open_export(path, mask_and_scale=False)
    assert stored.expression.dtype == np.float16
    assert not (stored.expression.values == -1).any()  # NaN is stored, never -1


def test_export_zarr_chunks_and_shards_as_asked(synthetic_dir, synthetic_raw, tmp_path):
    import zarr

    ds = agea_xr.open_dataset(synthetic_dir, variant="processed", chunks=None)
    path = agea_xr.export(ds, tmp_path / "p.zarr", chunks=2, shards=4)
    array = zarr.open_array(str(path / "expression"), mode="r")
    assert array.chunks == (2, *layout.GRID_SHAPE)
    assert array.shards == (4, *layout.GRID_SHAPE)
    assert len(list((path / "expression" / "c").iterdir())) == 3  # 12 / 4 shard objects
    back = agea_xr.open_export(path)
    assert back.expression.chunks[0] == (N_SYNTHETIC,)  # 32 a chunk (8 shards), cut at 12
    assert agea_xr.open_export(path, chunks={"experiment": 4}).expression.chunks[0] == (4,) * 3
    processed = np.fromfile(
        synthetic_dir / layout.VARIANTS["processed"], dtype=layout.RAW_DTYPE
    ).reshape(synthetic_raw.shape)
    assert (processed < 0).any()
    np.testing.assert_array_equal(back.expression.values, processed.astype(np.float32))
    unsharded = agea_xr.export(ds, tmp_path / "u.zarr", shards=None)
    assert zarr.open_array(str(unsharded / "expression"), mode="r").shards is None
    with pytest.raises(ValueError, match="multiple of"):
        agea_xr.export(ds, tmp_path / "bad.zarr", chunks=3, shards=4)
    assert not (tmp_path / "bad.zarr").exists()


def test_export_zarr_refuses_lossy_float16(synthetic_dir, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    scaled = ds.assign(expression=ds.expression.variable / 3)  # no longer float16-exact
    with pytest.raises(ValueError, match="not exact in float16"):
        agea_xr.export(scaled, tmp_path / "s.zarr", dtype="float16")
    assert list(tmp_path.iterdir()) == []
    # by default a derived variable is kept as float32, exactly
    path = agea_xr.export(scaled, tmp_path / "s.zarr")
    back = agea_xr.open_export(path)
    np.testing.assert_array_equal(back.expression.values, scaled.expression.values)


def test_open_export_without_dask_stays_lazy(synthetic_dir, synthetic_raw, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    for name in ("lazy.zarr", "lazy.nc"):
        path = agea_xr.export(ds, tmp_path / name)
        back = agea_xr.open_export(path, chunks=None)
        assert back.expression.chunks is None
        assert not isinstance(back.expression.variable._data, np.ndarray)
        assert back.expression.dtype == np.float32
        one = back.expression.isel(experiment=5, ml=slice(10, 20)).values
        np.testing.assert_array_equal(one, decoded(synthetic_raw[5, 10:20]))
        stored = agea_xr.open_export(path, chunks=None, mask_and_scale=False).expression
        assert stored.dtype == np.float32 and stored.chunks is None


@pytest.mark.parametrize("name", ["url.zarr", "url.nc"])
def test_open_export_from_fsspec_urls(synthetic_dir, synthetic_raw, tmp_path, name):
    ds = agea_xr.open_dataset(synthetic_dir)
    path = agea_xr.export(ds, tmp_path / name)
    memory = fsspec.filesystem("memory")
    target = f"/agea-test-{tmp_path.name}/{name}"
    memory.put(str(path), target, recursive=True)
    try:
        for url in (f"memory://{target}", path.as_uri()):
            back = agea_xr.open_export(url)
            assert back.expression.chunks is not None
            np.testing.assert_array_equal(
                back.expression.isel(experiment=[1, 7]).values, decoded(synthetic_raw[[1, 7]])
            )
            assert back.expression.sel(gene="Pdyn").experiment.values.tolist() == [
                int(ds.experiment[1])
            ]
    finally:
        memory.rm(f"/agea-test-{tmp_path.name}", recursive=True)


# --- subsets ------------------------------------------------------------------------
def test_gene_and_experiment_subsets_equal_memory(ds, tmp_path):
    ids = ds.experiment.values
    cases = [
        ({"genes": ["Gene0002", "Pdyn"]}, ds.sel(gene=["Gene0002", "Pdyn"])),
        ({"genes": "Pdyn"}, ds.sel(gene="Pdyn")),
        ({"experiments": [int(ids[5]), int(ids[0])]}, ds.isel(experiment=[5, 0])),
        # genes first, then the extra experiments, each once
        (
            {"genes": "Gene0002", "experiments": [int(ids[3]), int(ids[9])]},
            ds.isel(experiment=[2, 3, 9]),
        ),
    ]
    for i, (kwargs, memory) in enumerate(cases):
        for suffix in (".nc", ".zarr"):
            path = agea_xr.export(ds, tmp_path / f"s{i}{suffix}", **kwargs)
            back = agea_xr.open_export(path)
            assert back.experiment.values.tolist() == memory.experiment.values.tolist()
            assert back.gene.values.tolist() == memory.gene.values.tolist()
            np.testing.assert_array_equal(
                back.expression.values, decoded(memory.expression.values)
            )
            assert "subset" in back.attrs


def _independent_mask(label: np.ndarray, acronym: str) -> np.ndarray:
    br = brain_regions()
    region_id = int(br.id[np.flatnonzero(br.acronym == acronym)[0]])
    wanted = np.abs(br.descendants(region_id).id)
    return np.isin(np.abs(region_ids(label, "Allen")), wanted)


@pytest.mark.parametrize("crop", [True, False])
def test_region_subset_equals_memory_and_iblatlas(synthetic_dir, tmp_path, crop):
    ds = agea_xr.open_dataset(synthetic_dir)
    path = agea_xr.export(ds, tmp_path / "ca1.nc", genes="Pdyn", regions="CA1", crop=crop)
    back = agea_xr.open_export(path)
    memory = sel_region(ds.sel(gene="Pdyn"), "CA1", crop=crop)
    np.testing.assert_array_equal(back.expression.values, memory.expression.values)
    for dim in ("ml", "dv", "ap"):
        np.testing.assert_array_equal(back[dim].values, memory[dim].values)
    # independently of agea_xr's masks: iblatlas descendants on the label
    mask = _independent_mask(ds.label.values, "CA1")
    hit = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
    box = tuple(slice(h[0], h[-1] + 1) for h in hit) if crop else (slice(None),) * 3
    assert back.expression.shape[1:] == mask[box].shape
    full = ds.expression.sel(gene="Pdyn").values[(slice(None), *box)]
    inside = np.broadcast_to(mask[box], full.shape)
    np.testing.assert_array_equal(back.expression.values[inside], full[inside])
    assert np.isnan(back.expression.values[~inside]).all()
    assert back.attrs["subset"].startswith("genes: Pdyn; regions: CA1")
    assert back.expression.attrs == ds.expression.attrs


def test_region_subset_one_hemisphere(synthetic_dir, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    path = agea_xr.export(ds, tmp_path / "l.zarr", regions=["CA1", "CA3"], hemisphere="left")
    back = agea_xr.open_export(path)
    assert (back.ml.values < 0).all()
    memory = sel_region(ds, ["CA1", "CA3"], hemisphere="left", crop=True)
    np.testing.assert_array_equal(back.expression.values, memory.expression.values)


def test_subset_errors(synthetic_dir):
    ds = agea_xr.open_dataset(synthetic_dir)
    with pytest.raises(KeyError, match="Pdyn"):
        subset(ds, genes="pdyn")
    with pytest.raises(KeyError, match="123"):
        subset(ds, experiments=[123])
    with pytest.raises(KeyError, match="CA1"):
        subset(ds, regions="CA1x")


@pytest.mark.parametrize("name", ["genes", "experiments", "regions"])
def test_empty_subsets_are_refused(synthetic_dir, tmp_path, name):
    ds = agea_xr.open_dataset(synthetic_dir)
    remedy = {"genes": "genes=None", "experiments": "experiments=None", "regions": "acronym"}
    with pytest.raises(ValueError, match=rf"(?s)({name}=\[\]|No region).*{remedy[name]}"):
        agea_xr.export(ds, tmp_path / "x.nc", **{name: []})
    with pytest.raises(ValueError, match=rf"{name}=\[\]|No region"):
        ds.agea.export(tmp_path / "x.zarr", **{name: ()})
    assert list(tmp_path.iterdir()) == []  # nothing written


# --- another variant of the same release ------------------------------------------------
@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_variant_export_equals_the_variant_in_memory(synthetic_dir, masked, tmp_path, suffix):
    raw = agea_xr.open_dataset(synthetic_dir, mask_and_scale=masked)
    processed = agea_xr.open_dataset(synthetic_dir, variant="processed", mask_and_scale=masked)
    assert not np.array_equal(raw.expression.values, processed.expression.values)
    genes = ["Gene0002", "Pdyn"]
    path = agea_xr.export(raw, tmp_path / f"p{suffix}", variant="processed", genes=genes)
    back = agea_xr.open_export(path)
    memory = processed.sel(gene=genes)
    assert back.experiment.values.tolist() == memory.experiment.values.tolist()
    assert back.gene.values.tolist() == memory.gene.values.tolist()
    np.testing.assert_array_equal(back.expression.values, memory.expression.values)
    rows = raw.indexes["experiment"].get_indexer(memory.experiment.values)
    assert len(rows) == 3  # Pdyn has two experiments
    np.testing.assert_array_equal(
        back.expression.values, synthetic_values(0, N_SYNTHETIC, processed=True)[rows]
    )
    assert back.attrs["variant"] == "processed"
    assert (
        back.expression.attrs
        == agea_xr.open_dataset(synthetic_dir, variant="processed").expression.attrs
    )
    # the selection ds already is (experiments, grid) is kept, with the variant's values
    part = raw.isel(experiment=[7, 3], ml=slice(10, 20))
    path = part.agea.export(tmp_path / f"q{suffix}", variant="processed", regions="CA1")
    memory = sel_region(processed.isel(experiment=[7, 3], ml=slice(10, 20)), "CA1", crop=True)
    back = agea_xr.open_export(path)
    np.testing.assert_array_equal(back.expression.values, memory.expression.values)
    np.testing.assert_array_equal(back.ml.values, memory.ml.values)
    # the dataset's own variant: its values as they are
    same = agea_xr.export(
        raw, tmp_path / f"r{suffix}", variant="raw", experiments=[raw.experiment.values[4]]
    )
    back = agea_xr.open_export(same)
    np.testing.assert_array_equal(back.expression.values, decoded(raw.expression.values[4:5]))


def test_variant_export_from_a_url_source(synthetic_dir, tmp_path):
    url = synthetic_dir.resolve().as_uri()  # file://...
    raw = agea_xr.open_dataset(url, chunks=None)
    path = agea_xr.export(raw, tmp_path / "p.nc", variant="processed", genes="Pdyn")
    back = agea_xr.open_export(path)
    memory = agea_xr.open_dataset(synthetic_dir, variant="processed").sel(gene="Pdyn")
    np.testing.assert_array_equal(back.expression.values, memory.expression.values)
    assert back.attrs["source"] == url


def test_variant_export_errors(synthetic_dir, tmp_path):
    sample = agea_xr.open_sample()
    with pytest.raises(FileNotFoundError, match=r"Cannot export the processed variant of .*No "):
        agea_xr.export(sample, tmp_path / "x.nc", variant="processed")
    ds = agea_xr.open_dataset(synthetic_dir)
    orphan = ds.copy()
    orphan.attrs.pop("source")
    with pytest.raises(ValueError, match=r"attrs\['source'\] = None.*open_dataset\(FOLDER"):
        agea_xr.export(orphan, tmp_path / "x.nc", variant="processed")
    orphan.attrs["source"] = "Allen Mouse Brain Atlas grid downloads"
    with pytest.raises(ValueError, match="is not the folder or URL of an AGEA release"):
        agea_xr.export(orphan, tmp_path / "x.nc", variant="processed")
    with pytest.raises(ValueError, match="Unknown variant 'imputed'"):
        agea_xr.export(ds, tmp_path / "x.nc", variant="imputed")
    assert list(tmp_path.iterdir()) == []


# --- safe writes --------------------------------------------------------------------
def _fail_after(monkeypatch, calls: int, error: type[BaseException] = RuntimeError):
    original = ExperimentFile.read
    seen = {"n": 0}

    def read(obj, start, stop):
        seen["n"] += 1
        if seen["n"] > calls:
            raise error("injected failure mid-write")
        return original(obj, start, stop)

    monkeypatch.setattr(ExperimentFile, "read", read)
    return seen


@pytest.fixture(scope="module")
def three_chunks_dir(tmp_path_factory):
    """70 experiments: three dask chunks of 32, so that a write can fail half-way."""
    return write_synthetic(tmp_path_factory.mktemp("agea70") / "agea", 70)


@pytest.mark.parametrize("name", ["x.nc", "x.zarr"])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_mid_write_leaves_nothing(three_chunks_dir, tmp_path, monkeypatch, name, error):
    ds = agea_xr.open_dataset(three_chunks_dir)
    seen = _fail_after(monkeypatch, 1, error)
    with dask.config.set(scheduler="synchronous"), pytest.raises(error, match="injected"):
        agea_xr.export(ds, tmp_path / name)
    assert seen["n"] == 2  # one chunk was written, the second read failed
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["x.nc", "x.zarr"])
def test_existing_target_is_kept(three_chunks_dir, tmp_path, monkeypatch, name):
    ds = agea_xr.open_dataset(three_chunks_dir)
    target = agea_xr.export(ds, tmp_path / name, genes="Pdyn")
    before = sorted((p.relative_to(tmp_path), p.read_bytes()) for p in _files(tmp_path))
    with pytest.raises(FileExistsError, match="overwrite"):
        agea_xr.export(ds, target)
    seen = _fail_after(monkeypatch, 1)
    with pytest.raises(RuntimeError, match="injected"):
        agea_xr.export(ds, target, overwrite=True)
    assert seen["n"] >= 2
    after = sorted((p.relative_to(tmp_path), p.read_bytes()) for p in _files(tmp_path))
    assert after == before
    monkeypatch.undo()
    agea_xr.export(ds, target, overwrite=True)
    back = agea_xr.open_export(target)
    np.testing.assert_array_equal(back.expression.values, decoded(synthetic_values(0, 70)))
    assert [p.name for p in tmp_path.iterdir()] == [name]


def _files(folder):
    return [p for p in folder.rglob("*") if p.is_file()]


def test_safe_write_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"), safe_write(tmp_path / "n/x.nc"):
        pass
    with pytest.raises(ValueError, match="local path"), safe_write("s3://bucket/x.zarr"):
        pass


def test_format_and_argument_errors(synthetic_dir, tmp_path):
    assert format_of("A.NC") == "netcdf"
    with pytest.raises(ValueError, match=r"\.nc .*\.zarr"):
        format_of("x.h5")
    with pytest.raises(ValueError, match="choose one of"):
        format_of("x.nc", "hdf")
    ds = agea_xr.open_dataset(synthetic_dir)
    with pytest.raises(ValueError, match="engine"):
        agea_xr.export(ds, tmp_path / "x.nc", engine="scipy")
    with pytest.raises(ValueError, match="chunks"):
        agea_xr.export(ds, tmp_path / "x.nc", chunks=0)
    with pytest.raises(FileNotFoundError, match="No export"):
        agea_xr.open_export(tmp_path / "none.nc")
    assert list(tmp_path.iterdir()) == []


# --- accessor, DataArray, CLI, demo -------------------------------------------------
def test_accessor_and_dataarray_export(synthetic_dir, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    path = ds.agea.export(tmp_path / "a.zarr", genes="Pdyn")
    xr.testing.assert_equal(
        agea_xr.open_export(path).expression, ds.expression.sel(gene="Pdyn").compute()
    )
    path = ds.expression.isel(experiment=[0, 1]).agea.export(tmp_path / "b.nc")
    back = agea_xr.open_export(path)
    np.testing.assert_array_equal(back.expression.values, ds.expression.values[:2])


def test_demo_writes_a_netcdf_export(demo_run):
    path = demo_run.out_dir / "agea-demo-Pdyn.nc"
    assert "netCDF export of Pdyn" in demo_run.stdout and str(path) in demo_run.stdout
    sample = agea_xr.open_sample()
    back = agea_xr.open_export(path)
    xr.testing.assert_equal(
        back.expression.compute(), sample.expression.sel(gene="Pdyn").compute()
    )
    assert read_with_netcdf4(path)["gene"] == ["Pdyn"]


def test_reexport_keeps_values_and_asked_form(synthetic_dir, tmp_path):
    import zarr

    ds = agea_xr.open_dataset(synthetic_dir)
    compact = agea_xr.open_export(agea_xr.export(ds, tmp_path / "a.zarr", dtype="float16"))
    again = agea_xr.export(compact, tmp_path / "b.zarr", genes="Pdyn", dtype="float16")
    assert zarr.open_array(str(again / "expression"), mode="r").dtype == np.float16
    from_nc = agea_xr.open_export(agea_xr.export(ds, tmp_path / "a.nc"))
    lossless = agea_xr.export(from_nc, tmp_path / "c.zarr")
    assert zarr.open_array(str(lossless / "expression"), mode="r").dtype == np.float32
    back = agea_xr.open_export(agea_xr.export(from_nc, tmp_path / "d.zarr", dtype="float16"))
    xr.testing.assert_equal(back.expression, ds.expression.compute())
    # history grows, newest first
    history = agea_xr.open_export(again).attrs["history"].splitlines()
    assert [h.split(": ", 1)[1] for h in history] == [
        "export to Zarr b.zarr (genes: Pdyn)",
        "export to Zarr a.zarr",
    ]


def test_zarr_format_2_encoding_writes_and_refuses_shards(synthetic_dir, tmp_path):
    from agea_xr.encoding import zarr_encoding

    ds = drop_gene_index(agea_xr.open_dataset(synthetic_dir))
    encoding = zarr_encoding(ds, zarr_format=2)
    ds.to_zarr(tmp_path / "v2.zarr", zarr_format=2, encoding=encoding, consolidated=False)
    back = xr.open_zarr(tmp_path / "v2.zarr", consolidated=False)
    assert back.expression.dtype == np.float32
    xr.testing.assert_equal(back.expression, ds.expression)
    with pytest.raises(ValueError, match="Zarr format 3"):
        zarr_encoding(ds, shard_experiments=4, zarr_format=2)
    with pytest.raises(ValueError, match="float16"):
        zarr_encoding(ds, dtype="int16")


def test_missing_writer_names_the_extra(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name in ("netCDF4", "zarr") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    ds = agea_xr.open_sample()
    with pytest.raises(ImportError, match=r"netCDF4 package.*pip install 'agea-xr\[netcdf\]'"):
        agea_xr.export(ds, tmp_path / "x.nc", genes="Pdyn")
    with pytest.raises(ImportError, match=r"zarr package.*pip install 'agea-xr\[zarr\]'"):
        agea_xr.export(ds, tmp_path / "x.zarr", genes="Pdyn")
    assert not list(tmp_path.iterdir())


# --- CF conventions, checked by a real checker --------------------------------------
#: Findings of the IOOS compliance checker judged acceptable: the IBL layout puts
#: the grid in (ml, dv, ap) order, not CF's recommended (T, Z, Y, X).
ACCEPTED_CF_FINDINGS = ("spatio-temporal dimensions are not in the recommended order",)


def cf_findings(path) -> dict[str, list[str]]:
    """The failed checks of IOOS compliance-checker (CF-1.10), by priority; offline."""
    import warnings

    from compliance_checker.runner import CheckSuite, ComplianceChecker

    report = path.with_suffix(".cf.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's own deprecations
        CheckSuite.load_all_available_checkers()
        ComplianceChecker.run_checker(
            str(path), ["cf:1.10"], 0, "normal", output_filename=str(report),
            output_format="json",
        )  # fmt: skip
    result = json.loads(report.read_text())["cf:1.10"]
    report.unlink()
    found: dict[str, list[str]] = {}
    for priority in ("high_priorities", "medium_priorities", "low_priorities"):
        for check in result[priority]:
            if check["value"][0] < check["value"][1]:
                found.setdefault(priority, []).extend(check["msgs"])
    return found


def test_netcdf_exports_pass_a_cf_checker(tmp_path):
    sample = agea_xr.open_sample()
    sample_nc = agea_xr.export(sample, tmp_path / "sample.nc")
    stats = ["mean", "median", "std", "count", "fraction_measured"]
    regions_nc = agea_xr.export(
        agea_xr.region_expression(sample, stat=stats), tmp_path / "regions.nc"
    )
    for path in (sample_nc, regions_nc):
        found = cf_findings(path)
        assert "high_priorities" not in found, found  # no error
        warnings = found.get("medium_priorities", []) + found.get("low_priorities", [])
        assert all(any(a in w for a in ACCEPTED_CF_FINDINGS) for w in warnings), warnings
    with xr.open_dataset(sample_nc, decode_cf=False) as raw:
        for dim in ("ml", "dv", "ap"):
            assert "_FillValue" not in raw[dim].attrs
            assert "standard_name" not in raw[dim].attrs
            assert raw[dim].attrs["units"] == "m"
        assert raw.dv.attrs["axis"] == "Z" and raw.dv.attrs["positive"] == "up"
        assert "units" not in raw.label.attrs
        assert raw.attrs["Conventions"] == "CF-1.10"
        assert raw.attrs["history"].endswith("agea-xr 0.1.0: export to netCDF sample.nc")
    back = agea_xr.open_export(sample_nc)
    for dim, axis in (("ml", "X"), ("dv", "Z"), ("ap", "Y")):
        assert back[dim].attrs == sample[dim].attrs and back[dim].attrs["axis"] == axis
    regions = agea_xr.open_export(regions_nc)
    assert (np.diff(regions.region.values) > 0).all()  # CF: a monotonic coordinate
    memory = agea_xr.region_expression(sample, stat=stats).sortby("region")
    np.testing.assert_array_equal(regions["mean"].values, memory["mean"].values)
    assert regions["fraction_measured"].attrs["units"] == "1"
    assert regions.attrs["title"] == sample.attrs["title"]


# --- arguments, DataArrays, disk full, leftovers ---------------------------------------
def test_shards_and_experiments_are_checked_before_any_work(synthetic_dir, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    with pytest.raises(ValueError, match="shards must be at least 1, got 0"):
        agea_xr.export(ds, tmp_path / "x.zarr", shards=0)
    first = int(ds.experiment.values[0])
    with pytest.raises(ValueError, match=rf"experiments must be a whole number, got {first}.9"):
        agea_xr.export(ds, tmp_path / "x.nc", experiments=[first + 0.9])
    with pytest.raises(ValueError, match="chunks must be a whole number"):
        agea_xr.export(ds, tmp_path / "x.nc", chunks=1.5)
    assert list(tmp_path.iterdir()) == []
    # a whole float is that id, not another
    path = agea_xr.export(ds, tmp_path / "x.nc", experiments=[float(first)])
    assert agea_xr.open_export(path).experiment.values.tolist() == [first]


def test_dataarray_export_keeps_global_and_variable_attributes_apart(tmp_path):
    sample = agea_xr.open_sample()
    mean = sample.agea.gene("Pdyn")
    path = agea_xr.export(mean, tmp_path / "pdyn.nc")
    back = xr.open_dataset(path)
    assert back.attrs["citation"] == sample.attrs["citation"] == layout.CITATION
    assert back.attrs["title"] == sample.attrs["title"]
    for key in mean.attrs:  # long_name, units, experiments, ...: the variable's only
        if key not in ("Conventions", "history"):
            assert key not in back.attrs, key
    name = mean.name or "expression"
    assert back[name].attrs["long_name"] == mean.attrs["long_name"]
    back.close()


def _open_files_under(folder) -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(folder)):
                out.append(target)
    return out


def test_leftovers_of_a_killed_export_are_cleaned(synthetic_dir, tmp_path):
    ds = agea_xr.open_dataset(synthetic_dir)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    killed_nc = tmp_path / f".x.nc.partial-{pid}-0a1b2c3d"
    killed_nc.write_bytes(b"half a file")
    killed_zarr = tmp_path / f".x.zarr.partial-{pid}-0a1b2c3d"
    (killed_zarr / "expression").mkdir(parents=True)
    older = tmp_path / ".x.nc.partial-47bda4d9"  # an earlier version's name, no pid
    older.write_bytes(b"old")
    running = tmp_path / f".x.nc.partial-{os.getpid()}-feedbeef"  # a write in progress
    running.write_bytes(b"being written")
    agea_xr.export(ds, tmp_path / "x.nc", genes="Pdyn")
    agea_xr.export(ds, tmp_path / "x.zarr", genes="Pdyn")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["x.nc", "x.zarr", running.name])


DISK_FULL_SCRIPT = """
import os, sys, agea_xr
target = os.path.join(sys.argv[1], "full.nc")
try:
    agea_xr.export(agea_xr.open_sample(), target, engine=sys.argv[2])
except OSError as err:
    print("ERRNO", err.errno)
    print(err)
print("LEFT", sorted(os.listdir(sys.argv[1])))
"""


@pytest.fixture
def small_disk(tmp_path):
    """A 200 kB tmpfs (the sample's netCDF export needs ~470 kB); skipped where none mounts."""
    folder = tmp_path / "small"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_disk_full_names_path_and_space_and_leaves_nothing(small_disk, engine):
    # in a subprocess: h5netcdf used to segfault when the temporary was removed
    done = subprocess.run([sys.executable, "-c", DISK_FULL_SCRIPT, str(small_disk), engine],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == f"ERRNO {errno.ENOSPC}"
    assert f"Cannot write '{small_disk / 'full.nc'}': the disk is full" in lines[1]
    assert "The export needs up to " in lines[1] and " MB free once the partial" in lines[1]
    assert lines[-1] == "LEFT []"


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_export_closes_its_files_before_removing_them(
    three_chunks_dir, tmp_path, monkeypatch, engine
):
    ds = agea_xr.open_dataset(three_chunks_dir)
    before = {id(f) for f in _open_h5netcdf_files()}  # other tests' open files
    _fail_after(monkeypatch, 1)  # fails in the middle of the dask write
    with dask.config.set(scheduler="synchronous"), pytest.raises(RuntimeError, match="inject"):
        agea_xr.export(ds, tmp_path / "x.nc", engine=engine)
    assert _open_files_under(tmp_path) == []
    # no h5netcdf file of this export left open: its garbage collection would crash HDF5
    assert [f for f in _open_h5netcdf_files() if id(f) not in before] == []
    assert list(tmp_path.iterdir()) == []


def _open_h5netcdf_files() -> list:
    import gc

    import h5netcdf

    gc.collect()
    found = []
    for obj in gc.get_objects():
        with contextlib.suppress(ReferenceError):  # dead weak proxies among the objects
            if type(obj) is h5netcdf.File and not obj._closed:
                found.append(obj)
    return found
