"""Per-chunk compute kernels: float16 decoding through a lookup table.

numpy converts float16 to float32 at under 1 GB/s; reading the half-precision
bits as ``uint16`` and looking each one up in a 65,536-entry float32 table is
the same conversion (bit for bit, NaN for the ``-1`` sentinel when masking),
and compiled with numba it runs about three times faster. numba is optional
(the ``fast`` extra): without it the same table is applied with numpy fancy
indexing, which gives identical results.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from .layout import MISSING, RAW_DTYPE

__all__ = ["decode", "decode_table", "have_numba"]


@functools.cache
def decode_table(mask: bool) -> np.ndarray:
    """The float16 -> float32 lookup table, indexed by the raw uint16 bits.

    Parameters
    ----------
    mask : bool
        If True the entry of ``-1.0`` (the "no measurement" sentinel) is NaN.

    Returns
    -------
    numpy.ndarray
        A read-only float32 array of 65,536 entries.
    """
    table = np.arange(65536, dtype=np.uint16).view(RAW_DTYPE).astype(np.float32)
    if mask:
        table[np.array(MISSING, dtype=RAW_DTYPE).view(np.uint16)] = np.nan
    table.flags.writeable = False
    return table


@functools.cache
def _numba_decoder():
    if os.environ.get("AGEA_XR_DISABLE_NUMBA"):
        return None
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(nogil=True, cache=True)
    def _decode(bits, table, out):  # pragma: no cover - compiled
        for i in range(bits.size):
            out[i] = table[bits[i]]

    return _decode


def have_numba() -> bool:
    """Whether the compiled kernels are available (numba is installed and enabled).

    Returns
    -------
    bool
    """
    return _numba_decoder() is not None


def decode(raw: np.ndarray, mask: bool = True) -> np.ndarray:
    """Decode raw float16 expression values to float32.

    Parameters
    ----------
    raw : numpy.ndarray
        Values of dtype float16 (any shape).
    mask : bool, default True
        Replace the ``-1`` sentinel by NaN. Use False for the processed variant,
        whose values may legitimately be negative.

    Returns
    -------
    numpy.ndarray
        A new float32 array of the same shape.

    Examples
    --------
    >>> decode(np.array([-1, 0, 2.5], dtype="float16"))
    array([nan, 0. , 2.5], dtype=float32)
    """
    raw = np.ascontiguousarray(raw, dtype=RAW_DTYPE)
    bits = raw.view(np.uint16).reshape(-1)
    table = decode_table(mask)
    kernel = _numba_decoder()
    if kernel is None:
        return table[bits].reshape(raw.shape)
    out = np.empty(raw.shape, dtype=np.float32)
    kernel(bits, table, out.reshape(-1))
    return out
