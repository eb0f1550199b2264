"""Per-chunk kernels: the compiled path and the numpy fallback agree, and are right."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from agea_xr import kernels
from agea_xr.testing import synthetic_values

ENGINES = [
    "numpy",
    pytest.param(
        "numba", marks=pytest.mark.skipif(not kernels.have_numba(), reason="numba not installed")
    ),
]


@pytest.fixture(scope="module")
def chunk():
    """Nine synthetic experiments: raw float16 bits and decoded float32 (NaN = missing)."""
    raw = synthetic_values(3, 12).reshape(9, -1)
    values = raw.astype(np.float32)
    values[raw == -1] = np.nan
    return raw.view(np.uint16), values


@pytest.fixture(scope="module")
def codes():
    """Voxels in 5 segments of uneven sizes, a third of them left out."""
    n = synthetic_values(0, 1).size
    k = np.arange(n)
    return np.where(k % 3 == 0, -1, (k * 7 // 11) % 5)


def _reference_sums(values, codes, n_seg):
    out = np.zeros((values.shape[0], 3, n_seg))
    for e, row in enumerate(values.astype(np.float64)):
        for r in range(n_seg):
            x = row[codes == r]
            x = x[~np.isnan(x)]
            out[e, :, r] = (x.size, x.sum(), (x * x).sum())
    return out


def test_segments_orders_voxels_by_code_stably():
    perm, bounds = kernels.segments(np.array([2, 0, -1, 2, 0, 1]), 3)
    assert perm.tolist() == [1, 4, 5, 0, 3]
    assert bounds.tolist() == [0, 2, 3, 5]
    with pytest.raises(ValueError, match="codes go up to 3, but n_segments is 3"):
        kernels.segments(np.array([3]), 3)


@pytest.mark.parametrize("engine", ENGINES)
def test_segment_sums_match_reference_and_skip_missing(chunk, codes, engine):
    bits, values = chunk
    perm, bounds = kernels.segments(codes, 5)
    table = kernels.decode_table(True)
    got = kernels.segment_sums(bits, perm, bounds, table, engine=engine)
    expected = _reference_sums(values, codes, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # the -1 sentinel is not a value: counts are below the segment sizes
    sizes = np.bincount(codes[codes >= 0], minlength=5)
    assert (got[:, 0, :] < sizes).all()
    measured = np.array([(np.isfinite(v) & (codes >= 0)).sum() for v in values])
    np.testing.assert_array_equal(got[:, 0, :].sum(axis=1), measured)
    # decoded floats give the same numbers as the raw bits
    np.testing.assert_array_equal(kernels.segment_sums(values, perm, bounds, engine=engine), got)


@pytest.mark.skipif(not kernels.have_numba(), reason="numba not installed")
def test_compiled_and_numpy_paths_are_identical(chunk, codes):
    bits, values = chunk
    perm, bounds = kernels.segments(codes, 5)
    table = kernels.decode_table(True)
    for block, tab in ((bits, table), (values, None)):
        np.testing.assert_array_equal(
            kernels.segment_sums(block, perm, bounds, tab, engine="numba"),
            kernels.segment_sums(block, perm, bounds, tab, engine="numpy"),
        )
        np.testing.assert_array_equal(
            kernels.segment_medians(block, perm, bounds, tab, engine="numba"),
            kernels.segment_medians(block, perm, bounds, tab, engine="numpy"),
        )
        seed = values[:, 1000].astype(np.float64)
        np.testing.assert_array_equal(
            kernels.seed_moments(block, seed, tab, engine="numba"),
            kernels.seed_moments(block, seed, tab, engine="numpy"),
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_segment_medians_match_nanmedian(chunk, codes, engine):
    bits, values = chunk
    perm, bounds = kernels.segments(codes, 5)
    got = kernels.segment_medians(bits, perm, bounds, kernels.decode_table(True), engine=engine)
    for e in range(values.shape[0]):
        for r in range(5):
            assert got[e, r] == np.nanmedian(values[e, codes == r].astype(np.float64))


@pytest.mark.parametrize("engine", ENGINES)
def test_segment_medians_of_empty_or_unmeasured_segments_are_nan(engine):
    block = np.array([[np.nan, np.nan, 5.0, 1.0]], dtype=np.float32)
    perm, bounds = kernels.segments(np.array([0, 0, 2, 2]), 3)
    got = kernels.segment_medians(block, perm, bounds, engine=engine)
    assert np.isnan(got[0, 0]) and np.isnan(got[0, 1])
    assert got[0, 2] == 3.0


@pytest.mark.parametrize("engine", ENGINES)
def test_seed_moments_match_reference(chunk, engine):
    bits, values = chunk
    seed = values[:, 4321].astype(np.float64)
    seed[2] = np.nan  # an experiment where the seed is not measured
    got = kernels.seed_moments(bits, seed, kernels.decode_table(True), engine=engine)
    x = values.astype(np.float64)
    ok = ~np.isnan(x) & ~np.isnan(seed)[:, None]
    xs, ys = np.where(ok, x, 0), np.where(ok, seed[:, None], 0)
    expected = [ok.sum(0), xs.sum(0), ys.sum(0), (xs**2).sum(0), (ys**2).sum(0), (xs * ys).sum(0)]
    expected.append((~np.isnan(x)).sum(0))  # n_x: measured experiments, whatever the seed
    assert kernels.MOMENT_FIELDS[-1] == "n_x"
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-12)
    # experiment 2 never counts: at most the experiments where the seed is measured
    assert got[0].max() == (~np.isnan(seed)).sum() <= 8
    # ... but it counts in n_x, the voxel's own measurements
    assert (got[6] >= got[0]).all() and (got[6] > got[0]).any()


@pytest.mark.parametrize("engine", ENGINES)
def test_seed_moments_count_voxels_when_the_seed_is_never_measured(chunk, engine):
    bits, values = chunk
    seed = np.full(values.shape[0], np.nan)
    got = kernels.seed_moments(bits, seed, kernels.decode_table(True), engine=engine)
    assert not got[:6].any()
    np.testing.assert_array_equal(got[6], (~np.isnan(values)).sum(0))


def test_kernel_errors():
    bits = np.zeros((2, 4), dtype=np.uint16)
    perm, bounds = kernels.segments(np.zeros(4, int), 1)
    with pytest.raises(ValueError, match="need the decode table"):
        kernels.segment_sums(bits, perm, bounds)
    with pytest.raises(ValueError, match="must be 2-D"):
        kernels.segment_sums(np.zeros(4, np.float32), perm, bounds)
    with pytest.raises(TypeError, match="got dtype int64"):
        kernels.segment_sums(np.zeros((2, 4), np.int64), perm, bounds)
    with pytest.raises(ValueError, match="Unknown engine 'fortran'"):
        kernels.segment_sums(bits, perm, bounds, kernels.decode_table(True), engine="fortran")
    with pytest.raises(ValueError, match="3 values for a chunk of 2"):
        kernels.seed_moments(np.zeros((2, 4), np.float32), np.ones(3))


def test_disabling_numba_falls_back_to_numpy_with_same_results():
    code = (
        "import numpy as np, agea_xr.kernels as k\n"
        "from agea_xr.testing import synthetic_values\n"
        "assert not k.have_numba()\n"
        "b = synthetic_values(0, 5).reshape(5, -1).view(np.uint16)\n"
        "p, q = k.segments(np.arange(b.shape[1]) % 4, 4)\n"
        "np.save('out.npy', k.segment_sums(b, p, q, k.decode_table(True)))\n"
        "try:\n"
        "    k.segment_sums(b, p, q, k.decode_table(True), engine='numba')\n"
        "except ImportError as err:\n"
        "    assert 'AGEA_XR_DISABLE_NUMBA' in str(err)\n"
        "else:\n"
        "    raise SystemExit('numba engine did not fail')\n"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "AGEA_XR_DISABLE_NUMBA": "1"}
        subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp, env=env)
        fallback = np.load(os.path.join(tmp, "out.npy"))
    bits = synthetic_values(0, 5).reshape(5, -1).view(np.uint16)
    perm, bounds = kernels.segments(np.arange(bits.shape[1]) % 4, 4)
    np.testing.assert_array_equal(
        kernels.segment_sums(bits, perm, bounds, kernels.decode_table(True)), fallback
    )
