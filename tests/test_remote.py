"""Lazy reads straight from S3, against moto's S3 server on loopback."""

from __future__ import annotations

import pickle
import socket

import numpy as np
import pytest
import xarray as xr

import agea_xr
from agea_xr import layout
from agea_xr.reader import ExperimentFile, ExpressionArray
from agea_xr.remote import (
    is_connection_error,
    list_release,
    normalize_url,
    storage_options_for,
)

pytest_plugins = ["tests.s3server"]

N = 12


@pytest.fixture(autouse=True)
def _dummy_credentials(aws_env):
    """Every test here runs with dummy AWS credentials (never a real profile)."""


def decoded(raw: np.ndarray) -> np.ndarray:
    out = raw.astype(np.float32)
    out[raw == -1] = np.nan
    return out


# --- storage options -------------------------------------------------------------
def test_ibl_bucket_is_anonymous_with_short_timeouts_by_default():
    opts = storage_options_for(layout.BUCKET_URL + "/")
    assert opts["anon"] is True
    assert opts["client_kwargs"] == {"region_name": "us-east-1"}
    assert opts["config_kwargs"]["connect_timeout"] == 5
    assert opts["config_kwargs"]["retries"] == {"total_max_attempts": 3, "mode": "standard"}


def test_caller_options_win_and_merge_one_level_deep():
    opts = storage_options_for(
        "s3://ibl-brain-wide-map-public/atlas/agea",
        {"key": "K", "secret": "S", "config_kwargs": {"read_timeout": 2}},
    )
    assert "anon" not in opts  # credentials given: not forced anonymous
    assert opts["key"] == "K"
    assert opts["config_kwargs"]["read_timeout"] == 2
    assert opts["config_kwargs"]["connect_timeout"] == 5
    endpoint = storage_options_for(layout.BUCKET_URL, {"endpoint_url": "http://x"})
    assert endpoint["anon"] is True and "client_kwargs" not in endpoint


def test_other_buckets_are_not_made_anonymous_and_other_protocols_untouched():
    opts = storage_options_for("s3a://someone-else/agea")
    assert "anon" not in opts and opts["config_kwargs"]["connect_timeout"] == 5
    assert storage_options_for("memory://agea", None) == {}
    given = {"config_kwargs": {"a": 1}}
    storage_options_for("s3://b/agea", given)
    assert given == {"config_kwargs": {"a": 1}}  # the caller's mapping is not modified
    assert normalize_url("s3a://b/agea//") == "s3://b/agea"


def test_connection_errors_are_recognised_through_causes():
    outer = RuntimeError("wrapped")
    outer.__cause__ = ConnectionRefusedError("refused")
    assert is_connection_error(outer)
    assert not is_connection_error(KeyError("x"))
    assert not is_connection_error(RuntimeError("plain"))


# --- remote == local ---------------------------------------------------------------
@pytest.mark.parametrize("chunks", [None, {}])
def test_remote_equals_local_value_for_value(remote_release, synthetic_dir, chunks):
    remote = agea_xr.open_dataset(
        remote_release.url, chunks=chunks, storage_options=remote_release.storage_options
    )
    local = agea_xr.open_dataset(synthetic_dir, chunks=chunks)
    xr.testing.assert_identical(remote.drop_attrs(), local.drop_attrs())
    assert remote.attrs["data_version"] == local.attrs["data_version"] == "2025-03-18"
    assert remote.attrs["source"] == remote_release.url
    raw = np.fromfile(synthetic_dir / layout.VARIANTS["raw"], dtype=layout.RAW_DTYPE)
    np.testing.assert_array_equal(
        remote.expression.values, decoded(raw.reshape(N, *layout.GRID_SHAPE))
    )


def test_xarray_engine_opens_urls_with_the_same_defaults(remote_release, synthetic_dir):
    ds = xr.open_dataset(
        remote_release.url,
        engine="agea",
        chunks={},
        storage_options=remote_release.storage_options,
    )
    local = agea_xr.open_dataset(synthetic_dir)
    assert ds.expression.chunks == local.expression.chunks
    np.testing.assert_array_equal(ds.expression.values, local.expression.values)
    # the defaults (timeouts) are applied inside the backend too
    lazy = xr.open_dataset(
        remote_release.url, engine="agea", storage_options=remote_release.storage_options
    ).expression.variable._data
    while not isinstance(lazy, ExpressionArray):
        lazy = lazy.array
    options = lazy.source.storage_options
    assert options["config_kwargs"]["connect_timeout"] == 5
    assert options["endpoint_url"] == remote_release.storage_options["endpoint_url"]


def test_remote_undecoded_and_processed_bytes_are_the_files(remote_release, synthetic_dir):
    for variant in ("raw", "processed"):
        ds = agea_xr.open_dataset(
            remote_release.url,
            variant=variant,
            mask_and_scale=False,
            chunks=None,
            storage_options=remote_release.storage_options,
        )
        expected = np.fromfile(synthetic_dir / layout.binary_file(variant), dtype="<f2")
        got = ds.expression.values
        assert got.dtype == layout.RAW_DTYPE
        assert got.tobytes() == expected.tobytes()


def test_selection_by_gene_reads_the_right_experiments(remote_release, synthetic_dir):
    remote = agea_xr.open_dataset(
        remote_release.url, chunks=None, storage_options=remote_release.storage_options
    )
    local = agea_xr.open_dataset(synthetic_dir, chunks=None)
    for gene in ("Pdyn", "Gene0002"):
        np.testing.assert_array_equal(
            remote.expression.sel(gene=gene).values, local.expression.sel(gene=gene).values
        )
    assert remote.expression.sel(gene="Gene0002").sizes["experiment"] == 2


# --- what crosses the wire --------------------------------------------------------
@pytest.fixture
def proxied(s3_server, remote_release):
    """The release, reached through a byte-counting proxy."""
    proxy = s3_server.proxy()
    options = {"anon": True, "endpoint_url": proxy.endpoint}
    return proxy, options


def test_open_reads_only_the_small_files(proxied, remote_release, synthetic_dir):
    proxy, options = proxied
    agea_xr.open_dataset(remote_release.url, chunks=None, storage_options=options)
    small = sum((synthetic_dir / n).stat().st_size for n in (layout.TABLE_FILE, "label.npy"))
    small += (synthetic_dir / layout.IMAGE_FILE).stat().st_size
    binary = (synthetic_dir / layout.VARIANTS["raw"]).stat().st_size
    assert small < proxy.downstream < small + 64 * 1024
    assert proxy.downstream < binary / 3  # the 3.8 MB binary itself is never read


def test_one_experiment_transfers_one_experiments_bytes(proxied, remote_release, synthetic_dir):
    proxy, options = proxied
    ds = agea_xr.open_dataset(remote_release.url, chunks=None, storage_options=options)
    before_bytes, before_requests = proxy.downstream, proxy.requests
    values = ds.expression.isel(experiment=7).values
    moved = proxy.downstream - before_bytes
    assert proxy.requests - before_requests == 1  # one ranged GET
    assert layout.VOLUME_BYTES <= moved < layout.VOLUME_BYTES + 4096  # + HTTP headers
    local = agea_xr.open_dataset(synthetic_dir, chunks=None)
    np.testing.assert_array_equal(values, local.expression.isel(experiment=7).values)

    before_bytes, before_requests = proxy.downstream, proxy.requests
    ds.expression.isel(experiment=slice(2, 5)).values  # consecutive: one range
    assert proxy.requests - before_requests == 1
    assert (
        3 * layout.VOLUME_BYTES <= proxy.downstream - before_bytes < 3 * layout.VOLUME_BYTES + 4096
    )


def test_gene_selection_on_default_chunks_fetches_only_that_gene(proxied, remote_release):
    proxy, options = proxied
    ds = agea_xr.open_dataset(remote_release.url, chunks={}, storage_options=options)
    assert ds.expression.chunks[0] == (N,)  # all 12 experiments in one dask chunk
    before_bytes, before_requests = proxy.downstream, proxy.requests
    ds.expression.sel(gene="Pdyn").load()
    assert proxy.requests - before_requests == 1
    assert layout.VOLUME_BYTES <= proxy.downstream - before_bytes < layout.VOLUME_BYTES + 4096


def test_dask_chunks_read_one_range_each(proxied, remote_release):
    proxy, options = proxied
    ds = agea_xr.open_dataset(
        remote_release.url, chunks={"experiment": 4}, storage_options=options
    )
    before = proxy.requests
    ds.expression.isel(experiment=slice(0, 8)).mean().compute(scheduler="synchronous")
    assert proxy.requests - before == 2  # two chunks of four experiments


def test_remote_dataset_pickles_small_and_reads_after_unpickling(remote_release, synthetic_raw):
    ds = agea_xr.open_dataset(
        remote_release.url, chunks={}, storage_options=remote_release.storage_options
    )
    payload = pickle.dumps(ds.expression.data)
    assert len(payload) < 20_000  # a URL and options, not the bytes (3.8 MB)
    again = pickle.loads(payload)
    np.testing.assert_array_equal(np.asarray(again[3]), decoded(synthetic_raw[3]))
    source = ExperimentFile(remote_release.url + "/" + layout.VARIANTS["raw"], N, {"anon": True})
    assert len(pickle.dumps(source)) < 1000


def test_local_cluster_reduction_over_remote(remote_release, synthetic_raw):
    distributed = pytest.importorskip("distributed")
    ds = agea_xr.open_dataset(
        remote_release.url,
        chunks={"experiment": 4},
        storage_options=remote_release.storage_options,
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        got = ds.expression.mean("experiment").compute()
    expected = np.nanmean(decoded(synthetic_raw), axis=0)
    np.testing.assert_allclose(got.values, expected, rtol=1e-6)


def test_listing_gives_sizes_etags_and_version(remote_release, synthetic_dir):
    release = list_release(remote_release.url + "/", remote_release.storage_options)
    assert release.version == "2025-03-18"
    binary = release.files[layout.VARIANTS["raw"]]
    assert binary.size == N * layout.VOLUME_BYTES
    import hashlib

    expected_md5 = hashlib.md5((synthetic_dir / binary.name).read_bytes()).hexdigest()
    assert binary.etag == expected_md5


def test_missing_release_names_what_is_there(s3_server):
    with pytest.raises(FileNotFoundError, match=r"No AGEA release at 's3://agea-test/nothing'"):
        list_release("s3://agea-test/nothing", {"anon": True, "endpoint_url": s3_server.endpoint})


# --- unreachable -------------------------------------------------------------------
def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_endpoint_gives_a_clear_error():
    options = {"anon": True, "endpoint_url": f"http://127.0.0.1:{_closed_port()}"}
    with pytest.raises(ConnectionError, match=r"Cannot reach 's3://agea-test/agea'") as info:
        agea_xr.open_dataset("s3://agea-test/agea", storage_options=options)
    message = str(info.value)
    assert options["endpoint_url"] in message
    assert "open_sample()" in message and "AGEA_XR_CACHE" in message
    with pytest.raises(ConnectionError, match="open_sample"):
        agea_xr.download("s3://agea-test/agea", storage_options=options, progress=False)


def test_stalled_server_fails_fast_with_default_options(monkeypatch):
    # only the probe's read timeout is shortened: retries (botocore and s3fs) are the
    # defaults, which once multiplied a stall into minutes
    import time

    from agea_xr.remote import errors

    monkeypatch.setattr(errors, "PROBE_READ_TIMEOUT", 0.5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        options = {"anon": True, "endpoint_url": f"http://127.0.0.1:{listener.getsockname()[1]}"}
        start = time.monotonic()
        with pytest.raises(ConnectionError, match="Cannot reach"):
            agea_xr.open_dataset("s3://agea-test/agea", storage_options=options)
        # PROBE_MAX_ATTEMPTS x 0.5 s; with s3fs' own 5 retries it took 5x longer
        assert time.monotonic() - start < 4
    finally:
        listener.close()


def test_stalled_server_times_out_instead_of_hanging():
    # a socket that accepts connections (kernel backlog) but never answers
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        options = {
            "anon": True,
            "endpoint_url": f"http://127.0.0.1:{listener.getsockname()[1]}",
            "config_kwargs": {"read_timeout": 0.5, "retries": {"total_max_attempts": 1}},
        }
        with pytest.raises(ConnectionError, match="Cannot reach"):
            agea_xr.open_dataset("s3://agea-test/agea", storage_options=options)
    finally:
        listener.close()


@pytest.mark.network
def test_real_bucket_smoke():
    ds = agea_xr.open_dataset(layout.BUCKET_URL, chunks=None)
    assert ds.sizes["experiment"] == layout.N_EXPERIMENTS
    assert list(ds.gene.values[:3]) == ["Ndufa10", "Grik2", "Dmp1"]
    one = ds.expression.isel(experiment=0).values
    assert one.shape == layout.GRID_SHAPE and np.nanmax(one) > 0


# --- servers and buckets that answer otherwise (issue 10, case 18) ---------------------
@pytest.fixture
def http_without_ranges(synthetic_dir):
    """A plain HTTP server on loopback serving the release, ignoring Range headers."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):  # answers every GET with the whole file
        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=str(synthetic_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_ignores_ranges_is_named_as_such(http_without_ranges):
    ds = agea_xr.open_dataset(http_without_ranges, chunks=None)
    assert ds.sizes["experiment"] == N  # the small files are read whole: that works
    url = f"{http_without_ranges}/{layout.VARIANTS['raw']}"
    message = (
        f"The server of '{url}' ignores byte-range requests: asked for bytes 955,956-1,274,608 "
        "(318,652 bytes), it sent 3,823,824 bytes (the whole file, it seems)."
    )
    with pytest.raises(OSError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        ds.expression.isel(experiment=3).values
    assert "ended early" not in str(info.value) and "truncated" not in str(info.value)


@pytest.fixture
def no_credentials(monkeypatch):
    """No AWS credentials anywhere (and no instance metadata service to ask)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_a_public_mirror_without_credentials_suggests_anon(
    remote_release, s3_server, no_credentials, tmp_path
):
    options = {"endpoint_url": s3_server.endpoint}  # neither credentials nor anon
    message = (
        r"No S3 credentials were found to read 's3://agea-test/agea' \(endpoint "
        rf"{s3_server.endpoint}\) .*it is readable anonymously: pass "
        r"storage_options=\{'anon': True\}"
    )
    with pytest.raises(PermissionError, match=message):
        agea_xr.open_dataset(remote_release.url, storage_options=options)
    with pytest.raises(PermissionError, match=message):
        list_release(remote_release.url, options)
    with pytest.raises(PermissionError, match=message):
        agea_xr.download(remote_release.url, storage_options=options, cache_dir=tmp_path)
    # the advice works
    ds = agea_xr.open_dataset(remote_release.url, storage_options={**options, "anon": True})
    assert ds.sizes["experiment"] == N


def test_an_unreachable_mirror_without_credentials_is_a_connection_error(no_credentials):
    options = {"endpoint_url": f"http://127.0.0.1:{_closed_port()}"}
    with pytest.raises(ConnectionError, match=r"Cannot reach 's3://agea-test/agea' \(endpoint"):
        agea_xr.open_dataset("s3://agea-test/agea", storage_options=options)
    with pytest.raises(ConnectionError, match=r"Cannot reach 's3://agea-test/agea' \(endpoint"):
        list_release("s3://agea-test/agea", options)


def test_a_failure_while_reading_names_the_file(s3_server, remote_release):
    proxy = s3_server.proxy()
    options = proxy.storage_options()
    ds = agea_xr.open_dataset(remote_release.url, chunks=None, storage_options=options)
    proxy.stop()  # the endpoint goes away after opening
    url = f"{remote_release.url}/{layout.VARIANTS['raw']}"
    with pytest.raises(ConnectionError, match=f"Cannot reach '{url}'"):
        ds.expression.isel(experiment=2).values
