"""Spatial null maps: surrogates that keep a map's spatial autocorrelation.

Moran spectral randomisation (MSR; Wagner & Dray 2015, *Methods Ecol Evol*
6:1169), adapted to tens of thousands of voxels. A map ``x`` on the voxels of
a mask is split into orthogonal parts along a spectral basis of the mask's
6-neighbour graph (the smoothest ``n_modes`` of its Laplacian eigenmodes) plus
what the basis leaves (the residual, one more part)::

    x - mean(x) = sum_j c_j u_j + e        (u_j orthonormal, e orthogonal to them)

A surrogate flips the sign of every part at random (MSR's "singleton"
randomisation): ``x* = mean(x) + sum_j s_j c_j u_j + s_0 e`` with ``s = ±1``.
Every surrogate has exactly the map's mean, variance and power in every mode,
hence the same smoothness; under the null hypothesis (a map whose parts are
uncorrelated, as for a stationary random field) the observed map is one
surrogate among others, which is what makes the p-values of
:mod:`agea_xr.analysis.stats` honest.

The basis: the exact eigenvectors of a 60,000-voxel graph take minutes
(``scipy.sparse.linalg.eigsh``, with or without shift-invert), so the modes are
the Ritz vectors of the graph Laplacian in the span of the lowest-frequency
cosine modes of the mask's bounding box, restricted to the mask (an
orthonormal basis of their span from their Gram matrix, leaving out modes that
coincide on a small or thin mask, then a Rayleigh-Ritz step: two small
symmetric eigenproblems, about a second). They are
orthonormal, orthogonal to the constant and to each other under the
Laplacian, and ordered from smoothest. Surrogates are linear in the signs, so
the nulls of a map against thousands of others are one matrix product with the
basis (see :func:`agea_xr.analysis.stats.spatial_p`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .._choices import check_choice, check_integer, check_random_state
from ..layout import GRID_DIMS, GRID_SHAPE, LABEL_FILE

__all__ = ["METHODS", "Decomposition", "brain_mask", "decompose", "null_maps", "spectral_basis"]

#: Surrogate methods (``method=``): Moran spectral randomisation.
METHODS = ("moran",)
#: Default number of Laplacian modes of the basis.
N_MODES = 128


def brain_mask() -> np.ndarray:
    """The brain's voxels of the grid: boolean ``(ml, dv, ap)``, label != 0.

    From the bundled real Allen annotation (the ``label.npy`` of the release).
    """
    from ..sample import sample_path

    return np.load(sample_path() / LABEL_FILE, allow_pickle=False) != 0


def _as_volume(values: Any, what: str) -> tuple[np.ndarray, xr.DataArray | None]:
    """A map as a float64 ``(ml, dv, ap)`` numpy volume, and the DataArray it came from."""
    dtype = np.dtype(values.dtype) if hasattr(values, "dtype") else np.asarray(values).dtype
    if dtype.kind not in "biuf":
        raise TypeError(
            f"{what} must hold numbers (a map of values), got dtype {dtype}: convert it "
            "first, e.g. values.astype('float32')."
        )
    if isinstance(values, xr.DataArray):
        if set(values.dims) != set(GRID_DIMS):
            raise ValueError(
                f"{what} must be a volume with dims {GRID_DIMS}, got dims {values.dims}: "
                "select one experiment (e.g. ds.agea.gene('Pdyn')) or one map."
            )
        da = values.transpose(*GRID_DIMS)
        return np.asarray(da.values, dtype=np.float64), da
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 3:
        raise ValueError(
            f"{what} must be a 3-d (ml, dv, ap) volume, got an array of shape {array.shape}."
        )
    return array, None


def check_mask(mask: Any, shape: tuple[int, ...], like: xr.DataArray | None) -> np.ndarray:
    """The voxels the nulls live on: a boolean volume of ``shape``.

    ``mask=None`` is the brain: ``label != 0`` of the map's ``label`` coordinate
    when it has one, else of the bundled Allen annotation (full grid only).
    """
    if mask is None:
        if like is not None and "label" in like.coords:
            return np.asarray(like["label"].transpose(*GRID_DIMS).values) != 0
        if tuple(shape) != GRID_SHAPE:
            raise ValueError(
                f"The maps have shape {tuple(shape)}, not the whole grid {GRID_SHAPE}: "
                "pass mask=, a boolean volume of their shape (True on the voxels to use)."
            )
        return brain_mask()
    values = mask.transpose(*GRID_DIMS).values if isinstance(mask, xr.DataArray) else mask
    values = np.asarray(values)
    if values.dtype != bool or values.shape != tuple(shape):
        raise ValueError(
            f"mask must be a boolean volume of shape {tuple(shape)} (ml, dv, ap), got dtype "
            f"{values.dtype} and shape {values.shape}."
        )
    return values


def laplacian(mask: np.ndarray):
    """The graph Laplacian ``D - W`` of the mask's voxels, 6 neighbours, CSR.

    Rows and columns follow ``np.flatnonzero(mask)`` (C order).
    """
    import scipy.sparse as sp

    n = int(mask.sum())
    index = np.full(mask.shape, -1, dtype=np.int64)
    index[mask] = np.arange(n)
    rows, cols = [], []
    for axis in range(mask.ndim):
        lo = [slice(None)] * mask.ndim
        hi = [slice(None)] * mask.ndim
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        i, j = index[tuple(lo)], index[tuple(hi)]
        both = (i >= 0) & (j >= 0)
        rows.append(i[both])
        cols.append(j[both])
    i, j = np.concatenate(rows), np.concatenate(cols)
    w = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    w = (w + w.T).tocsr()
    return (sp.diags(np.asarray(w.sum(axis=1)).ravel()) - w).tocsr()


def _cosine_modes(mask: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` lowest-frequency cosine (DCT-II) modes of the mask's box, at its voxels."""
    shape = mask.shape
    freq = np.meshgrid(*(np.arange(s) / s for s in shape), indexing="ij")
    order = np.argsort(sum(f**2 for f in freq).reshape(-1), kind="stable")[:n]
    ks = np.unravel_index(order, shape)
    where = np.nonzero(mask)
    modes = np.ones((where[0].size, order.size))
    for axis, size in enumerate(shape):
        table = np.cos(np.pi * np.outer(np.arange(size) + 0.5, np.arange(size)) / size)
        modes *= table[where[axis]][:, ks[axis]]
    return modes


#: Eigenvalues of the modes' Gram matrix below this fraction of the largest (singular
#: values below 1e-5 of the largest): directions the modes do not span on the mask.
_RANK_TOLERANCE = 1e-10


@functools.lru_cache(maxsize=4)
def _basis(key: bytes, shape: tuple[int, ...], n_modes: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.linalg import eigh

    mask = np.unpackbits(np.frombuffer(key, np.uint8), count=int(np.prod(shape)))
    mask = mask.reshape(shape).astype(bool)
    # the cosine modes of the mask's bounding box: at the scale of the mask (a region's
    # modes from the whole grid's box are nearly constant on it, and dependent)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(mask))
    modes = _cosine_modes(mask[box], min(n_modes + 1, int(mask.sum())))[:, 1:]
    modes -= modes.mean(axis=0)  # orthogonal to the constant: surrogates keep the mean
    # an orthonormal basis of their span, from the eigenvectors of their Gram matrix
    # (rank-revealing: on a thin or small mask some modes coincide), then Rayleigh-Ritz:
    # the Ritz vectors are orthonormal and L-orthogonal
    gram_values, gram_vectors = eigh(modes.T @ modes)
    keep = gram_values > gram_values.max(initial=0.0) * _RANK_TOLERANCE
    span = modes @ (gram_vectors[:, keep] / np.sqrt(gram_values[keep]))
    eigenvalues, rotation = eigh(span.T @ (laplacian(mask) @ span))
    basis = np.ascontiguousarray(span @ rotation)
    basis.flags.writeable = False
    eigenvalues.flags.writeable = False
    return basis, eigenvalues


def spectral_basis(mask: np.ndarray, n_modes: int = N_MODES) -> tuple[np.ndarray, np.ndarray]:
    """The smoothest Laplacian modes of a mask's 6-neighbour graph (Ritz approximation).

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean volume; the voxels of the graph (C order).
    n_modes : int, default 128
        Modes wanted (fewer when the mask has fewer voxels).

    Returns
    -------
    basis : numpy.ndarray
        float64 ``(voxel, mode)``, orthonormal columns orthogonal to the constant,
        ``basis.T @ L @ basis`` diagonal; read-only (cached for the last 4 masks).
    eigenvalues : numpy.ndarray
        The Ritz values ``(mode,)``, ascending (0 = constant, 12 = most rugged).
    """
    key = np.packbits(np.asarray(mask, dtype=bool).reshape(-1)).tobytes()
    return _basis(key, tuple(mask.shape), n_modes)


@dataclass(frozen=True)
class Decomposition:
    """A map on a mask split into orthogonal parts: ``x = mean + basis @ c + residual``.

    Attributes
    ----------
    mask : numpy.ndarray
        Boolean volume of the voxels used.
    mean : float
        Mean of the map over them.
    basis : numpy.ndarray
        ``(voxel, mode)`` from :func:`spectral_basis`.
    coefficients : numpy.ndarray
        ``(mode,)``: ``c = basis.T @ (x - mean)``.
    residual : numpy.ndarray
        ``(voxel,)``: what the basis leaves, orthogonal to it.

    A surrogate with signs ``s`` (``(mode + 1,)`` of ±1, the last for the
    residual) is ``mean + basis @ (s[:-1] * c) + s[-1] * residual``.
    """

    mask: np.ndarray
    mean: float
    basis: np.ndarray
    coefficients: np.ndarray
    residual: np.ndarray

    @property
    def n_parts(self) -> int:
        """Number of parts flipped (modes + the residual)."""
        return self.coefficients.size + 1

    @property
    def centred(self) -> np.ndarray:
        """The map minus its mean, on the mask's voxels."""
        return self.basis @ self.coefficients + self.residual

    def surrogates(self, signs: np.ndarray) -> np.ndarray:
        """Surrogates ``(n, voxel)`` for signs ``(n, n_parts)`` of ±1."""
        smooth = (signs[:, :-1] * self.coefficients) @ self.basis.T
        return self.mean + smooth + signs[:, -1:] * self.residual

    def projections(self, other: np.ndarray) -> np.ndarray:
        """Every part's dot product with ``other`` ``(voxel,)``: ``(n_parts,)``."""
        return np.append(self.coefficients * (self.basis.T @ other), self.residual @ other)

    def square_weights(self) -> np.ndarray:
        """``(voxel,)``: the expected square of a centred surrogate at every voxel."""
        return (self.basis**2) @ (self.coefficients**2) + self.residual**2


def decompose(values: np.ndarray, mask: np.ndarray, n_modes: int = N_MODES) -> Decomposition:
    """Split a map's values on ``mask`` into its spectral parts and residual.

    Parameters
    ----------
    values : numpy.ndarray
        ``(voxel,)`` values at ``np.flatnonzero(mask)``, all finite.
    mask : numpy.ndarray
        Boolean volume.
    n_modes : int
        Modes of the basis (:func:`spectral_basis`).
    """
    basis, _ = spectral_basis(mask, n_modes)
    mean = float(values.mean())
    centred = values - mean
    coefficients = basis.T @ centred
    return Decomposition(mask, mean, basis, coefficients, centred - basis @ coefficients)


def random_signs(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``(n, k)`` independent random signs ±1 (float64)."""
    return rng.integers(0, 2, size=(n, k)).astype(np.float64) * 2.0 - 1.0


def support(values: np.ndarray, mask: np.ndarray, what: str, minimum: int = 3) -> np.ndarray:
    """The voxels of ``mask`` where ``values`` is finite; a ValueError if too few."""
    used = mask & np.isfinite(values)
    if int(used.sum()) < minimum:
        raise ValueError(
            f"{what} has {int(used.sum())} finite value(s) inside the mask, fewer than the "
            f"{minimum} a spatial null needs: choose another map or a larger mask."
        )
    return used


def null_maps(
    values: xr.DataArray | np.ndarray,
    n: int = 1000,
    *,
    mask: xr.DataArray | np.ndarray | None = None,
    method: str = "moran",
    n_modes: int = N_MODES,
    random_state: int | np.random.Generator | None = None,
) -> xr.DataArray:
    """Surrogate maps with the spatial autocorrelation of ``values``.

    Moran spectral randomisation (Wagner & Dray 2015) on the smoothest
    ``n_modes`` Laplacian modes of the mask's 6-neighbour graph, the residual
    flipped as one more part (see :mod:`agea_xr.analysis.nulls` and the
    Statistics page of the documentation). Every surrogate has the map's mean,
    variance and power in every mode, hence the same variogram at one voxel
    (200 µm) and, closely, at every distance.

    Parameters
    ----------
    values : xarray.DataArray or numpy.ndarray
        One map, dims ``(ml, dv, ap)`` (NaN = no value: left out).
    n : int, default 1000
        Surrogates.
    mask : boolean volume, optional
        Voxels the surrogates live on. Default: the brain (``label != 0`` of the
        map's ``label`` coordinate, else of the Allen annotation).
    method : {"moran"}
        Surrogate method.
    n_modes : int, default 128
        Modes of the spectral basis; more modes, finer nulls, slower products.
    random_state : int or numpy.random.Generator, optional
        Seed: the same seed gives the same surrogates.

    Returns
    -------
    xarray.DataArray
        float32 ``(null, ml, dv, ap)``, NaN outside the mask and where ``values``
        is NaN; the grid coordinates of ``values`` when it is a DataArray.
        Memory: ``n`` x 0.64 MB on the whole grid.

    Raises
    ------
    ValueError
        For a map that is not one volume, a mask of another shape or dtype, fewer
        than 3 finite values in the mask, an unknown method, or a bad ``n``.

    Examples
    --------
    >>> import numpy as np, agea_xr
    >>> pdyn = agea_xr.open_sample().agea.gene("Pdyn")
    >>> s = agea_xr.null_maps(pdyn, n=3, random_state=0)
    >>> s.dims
    ('null', 'ml', 'dv', 'ap')
    >>> bool(np.allclose(s.mean(("ml", "dv", "ap")), float(pdyn.where(s[0].notnull()).mean())))
    True
    """
    check_choice(method, METHODS, "null method")
    n = check_integer(n, "n", minimum=1)
    n_modes = check_integer(n_modes, "n_modes", minimum=1)
    check_random_state(random_state)
    volume, da = _as_volume(values, "values")
    used = support(volume, check_mask(mask, volume.shape, da), "values")
    parts = decompose(volume[used], used, n_modes)
    rng = np.random.default_rng(check_random_state(random_state))
    out = np.full((n, *volume.shape), np.nan, dtype=np.float32)
    flat = out.reshape(n, -1)
    where = np.flatnonzero(used)
    for start in range(0, n, 128):
        signs = random_signs(rng, min(128, n - start), parts.n_parts)
        flat[start : start + signs.shape[0], where] = parts.surrogates(signs)
    coords = {}
    if da is not None:
        coords = {d: da[d] for d in GRID_DIMS if d in da.coords}
    attrs = {
        "long_name": "spatial null (surrogate) maps",
        "method": "Moran spectral randomisation (Wagner & Dray 2015)",
        "n_modes": int(parts.n_parts - 1),
    }
    return xr.DataArray(out, dims=("null", *GRID_DIMS), coords=coords, attrs=attrs)
