"""iblatlas' ``merfish.denoise_volume``, lazily over chunks of cell types.

The same steps, in the same float32 arithmetic (Yao et al. 2023 densities as
processed by ``iblatlas.genomics.merfish.denoise_volume``): NaN -> 0; in-brain
voxels NaN in every type get Dirichlet(1, ..., 1) noise from
``numpy.random.RandomState(42)`` (the whole noise matrix is drawn, then each
chunk takes its types' rows, so the values are those of the one-shot function);
``scipy.ndimage.gaussian_filter`` per type (sigma 0.5 voxel); brain mask; then
division by the per-voxel sum over all types + 1e-10. Two passes over the
volumes: one for the all-NaN voxels and one for the sum; memory stays bounded by
a few chunks.
"""

from __future__ import annotations

import numpy as np

from .. import volumes_layout as vl

__all__ = ["denoised"]


def _noise(n_types: int, n_voxels: int) -> np.ndarray:
    """(n_voxels, n_types) Dirichlet noise, drawn as ``denoise_volume`` draws it."""
    rng = np.random.RandomState(vl.DENOISE_SEED)
    return rng.dirichlet(np.ones(n_types), size=n_voxels)


def _smooth(block, all_nan, brain, *, n_types, block_info=None):
    from scipy.ndimage import gaussian_filter

    start = block_info[0]["array-location"][0][0]
    all_nan, brain = all_nan[0], brain[0]  # (1, ml, dv, ap) blocks, broadcast along types
    vol = np.array(block, dtype=np.float32)
    vol = np.nan_to_num(vol, nan=0.0)
    n_fill = int(all_nan.sum())
    if n_fill:
        noise = _noise(n_types, n_fill)
        vol[:, all_nan] = noise[:, start : start + vol.shape[0]].T
    vol = np.stack([gaussian_filter(channel, sigma=vl.DENOISE_SIGMA) for channel in vol])
    vol *= brain
    return vol


def denoised(raw, brain: np.ndarray):
    """Proportions of each type per voxel, as ``merfish.denoise_volume`` computes them.

    Parameters
    ----------
    raw : dask.array.Array
        ``(types, ml, dv, ap)`` raw densities (the stored float16 values as float32,
        NaN allowed), chunked along
        types only.
    brain : numpy.ndarray
        bool ``(ml, dv, ap)``, True inside the brain (``label != 0``).

    Returns
    -------
    dask.array.Array
        float32 ``(types, ml, dv, ap)``; in-brain voxels sum to ~1 over types,
        0 outside.
    """
    import dask.array as dska

    brain = np.asarray(brain, dtype=bool)
    if any(len(c) != 1 for c in raw.chunks[1:]):
        raw = raw.rechunk({1: -1, 2: -1, 3: -1})
    all_nan = dska.isnan(raw).all(axis=0) & brain
    smoothed = dska.map_blocks(
        _smooth,
        raw,
        all_nan[None],
        brain[None],
        n_types=int(raw.shape[0]),
        dtype=np.float32,
        meta=np.empty((0, 0, 0, 0), dtype=np.float32),
    )
    total = smoothed.sum(axis=0, dtype=np.float32)
    return smoothed / (total + np.float32(vl.DENOISE_EPSILON))
