"""Errors as the command line says them: one short message, millimetres, option names.

The library speaks metres and keyword arguments (``ap=-2.0e-3``, ``min_experiments``);
the command line speaks millimetres and options (``--ap -2``, ``--min-experiments``).
:func:`for_cli` rewrites the first into the second in any message the CLI prints.
"""

from __future__ import annotations

import re

__all__ = ["for_cli", "message_of"]

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"

#: ``ap=0.1 m`` (optionally followed by its mm value in brackets): a position in metres.
_WITH_UNIT = re.compile(rf"\b(?P<dim>ap|ml|dv)=(?P<num>{_NUM}) m\b(?: \({_NUM} mm\))?")
#: ``ap=-2.0e-3``: a keyword argument in metres, written in scientific notation.
_SCIENTIFIC = re.compile(r"\b(?P<dim>ap|ml|dv)=(?P<num>[-+]?\d+\.?\d*[eE]-\d+)")
#: ``xyz=[x, y, z] (m)``: a point in metres; ``(xyz=[x, y, z])``: a call to make.
_XYZ = re.compile(
    rf"(?P<open>\()?xyz=\[(?P<x>{_NUM}), (?P<y>{_NUM}), (?P<z>{_NUM})\](?P<unit> \(m\))?"
)
#: Words and keyword arguments of the Python API -> those of the command line.
_PHRASES = (
    (re.compile(r"\bin metres\b"), "in millimetres"),
    (re.compile(r"\bare metres\b"), "are millimetres"),
    (re.compile(r"\(in m\)"), "(in mm)"),
    (re.compile(r"\bmin_experiments=(\d+)"), r"--min-experiments \1"),
    (re.compile(r"\bmin_experiments\b"), "--min-experiments"),
    (re.compile(r"\bmin_voxels=(\d+)"), r"--min-voxels \1"),
    (re.compile(r"\bmin_voxels\b"), "--min-voxels"),
    (re.compile(r"\banon=True\b"), "--anon"),
    (re.compile(r"\bendpoint_url\b"), "--endpoint-url"),
    (re.compile(r"\boverwrite=True \(--overwrite\)"), "--overwrite"),
    (re.compile(r"\boverwrite=True\b"), "--overwrite"),
    (re.compile(r"\bmask_and_scale=False\b"), "--no-mask-and-scale"),
    (re.compile(r"\bds\.agea\.search_genes\((?:\.\.\.)?\)"), "`agea-xr genes PATTERN`"),
    (re.compile(r"\bds\.gene\.values\b"), "`agea-xr genes`"),
)


def _mm(text: str) -> str:
    """A value in metres, as text, in millimetres (``-0.002`` -> ``-2``)."""
    return f"{float(text) * 1e3:.6g}"


def _xyz(match: re.Match) -> str:
    x, y, z = (_mm(match[k]) for k in ("x", "y", "z"))
    if match["unit"]:  # a point the user gave: say it as they did
        return f"{match['open'] or ''}ML AP DV = {x} {y} {z} mm"
    return f"{match['open'] or ''}--seed {x} {y} {z}"


def for_cli(message: str) -> str:
    """A library message rewritten for the command line: millimetres and option names.

    Only explicit metres are converted (``ap=0.1 m``, ``ap=-2.0e-3``,
    ``xyz=[...]``); numbers already in mm are left alone.

    Parameters
    ----------
    message : str

    Returns
    -------
    str

    Examples
    --------
    >>> for_cli("ap=0.1 m (+100.000 mm) lies outside the grid")
    '--ap 100 mm lies outside the grid'
    >>> for_cli("Coordinates are in metres from bregma (ap=-2.0e-3 is 2 mm posterior).")
    'Coordinates are in millimetres from bregma (--ap -2 is 2 mm posterior).'
    >>> for_cli("seed there (xyz=[-0.0015, -0.002, -0.0015]), or lower min_experiments.")
    'seed there (--seed -1.5 -2 -1.5), or lower --min-experiments.'
    >>> for_cli("the voxel at x=-1.539, y=-2.000, z=-1.500 mm")
    'the voxel at x=-1.539, y=-2.000, z=-1.500 mm'
    """
    message = _WITH_UNIT.sub(lambda m: f"--{m['dim']} {_mm(m['num'])} mm", message)
    message = _SCIENTIFIC.sub(lambda m: f"--{m['dim']} {_mm(m['num'])}", message)
    message = _XYZ.sub(_xyz, message)
    for pattern, replacement in _PHRASES:
        message = pattern.sub(replacement, message)
    return message


def message_of(err: BaseException) -> str:
    """The text of an exception for the one-line ``error:`` report.

    A KeyError's message is its argument (not its repr); an exception without
    a message is named by its type; chained causes are not repeated.
    """
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    if not text.strip():
        text = type(err).__name__
    return for_cli(text.strip())
