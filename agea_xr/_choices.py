"""Validation of arguments: choices with close matches, integers, counts, numbers, booleans.

The one owner of "unknown X: choose one of ..." messages and of the checks that
keep numbers from being silently truncated or wrapped. Every message names the
parameter, the value given, the valid choices (or the nearest ones) and the remedy.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_between",
    "check_bool",
    "check_choice",
    "check_count",
    "check_finite",
    "check_integer",
    "close_matches",
]


def close_matches(value: str, choices: Iterable[str], n: int = 5) -> list[str]:
    """Closest strings to ``value`` among ``choices`` (case-insensitive).

    Parameters
    ----------
    value : str
        The unknown name.
    choices : iterable of str
        Known names.
    n : int, default 5
        At most this many matches.

    Returns
    -------
    list of str
        Matches, best first; names differing only by case come first.

    Examples
    --------
    >>> close_matches("pdyn", ["Pdyn", "Penk", "Pdx1"])
    ['Pdyn']
    >>> close_matches("Slc17a6x", ["Slc17a6", "Slc17a7", "Gad1"])
    ['Slc17a6', 'Slc17a7']
    """
    choices = list(dict.fromkeys(str(c) for c in choices))
    lowered = {c.lower(): c for c in choices}
    exact = [lowered[value.lower()]] if value.lower() in lowered else []
    fuzzy = difflib.get_close_matches(value.lower(), list(lowered), n=n, cutoff=0.6)
    out = exact + [lowered[m] for m in fuzzy if lowered[m] not in exact]
    return out[:n]


def check_choice(value: Any, choices: Sequence[Any], what: str, hint: str = "") -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError naming them.

    Parameters
    ----------
    value : object
        The value given.
    choices : sequence
        The valid values (None allowed among them).
    what : str
        What the value is, e.g. ``"hemisphere"`` or ``"mapping"``.
    hint : str, optional
        A sentence appended to the message (what the choices mean).

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    TypeError
        If ``value`` is an array (numpy, xarray, pandas: one choice is one value),
        naming the choices.
    ValueError
        If ``value`` is not among ``choices``; the message lists them and the closest.

    Examples
    --------
    >>> check_choice("left", (None, "left", "right"), "hemisphere")
    'left'
    >>> check_choice("lft", (None, "left", "right"), "hemisphere")
    Traceback (most recent call last):
    ...
    ValueError: Unknown hemisphere 'lft': choose one of None, 'left', 'right'. Did you mean 'left'?
    >>> check_choice(np.array(["left", "right"]), ("left", "right"), "hemisphere")
    Traceback (most recent call last):
    ...
    TypeError: The hemisphere is one value, one of 'left', 'right'; got ndarray with shape (2,).
    """
    if hasattr(value, "__array__") and not isinstance(value, np.generic):
        # an array in a tuple test is an elementwise == whose truth is ambiguous
        shown = ", ".join(repr(c) for c in choices)
        raise TypeError(
            f"The {what} is one value, one of {shown}; got {type(value).__name__} with shape "
            f"{tuple(np.shape(value))}."
        )
    try:
        if value in choices:
            return value
    except TypeError:  # unhashable values compared against a set-like
        pass
    named = [c for c in choices if isinstance(c, str)]
    near = close_matches(str(value), named, n=2)
    did = f" Did you mean {' or '.join(map(repr, near))}?" if near else ""
    shown = ", ".join(repr(c) for c in choices)
    extra = f" {hint}" if hint else ""
    raise ValueError(f"Unknown {what} {value!r}: choose one of {shown}.{did}{extra}")


def check_integer(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int if it is a whole number (no silent truncation).

    Parameters
    ----------
    value : object
        An int, a numpy integer, or a float/str that holds a whole number.
    name : str
        The parameter's name, for the message.
    minimum : int, optional
        The smallest allowed value.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``value`` is not a number (a bool is refused too).
    ValueError
        If it has a fractional part, is not finite, or is below ``minimum``.

    Examples
    --------
    >>> check_integer(5.0, "top")
    5
    >>> check_integer(71717084.9, "experiments")
    Traceback (most recent call last):
    ...
    ValueError: experiments must be a whole number, got 71717084.9: pass an integer.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}.")
    if isinstance(value, (numbers.Integral, np.integer)):
        out = int(value)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an integer, got {value!r}.") from None
        if not np.isfinite(number) or number != int(number):
            raise ValueError(f"{name} must be a whole number, got {value!r}: pass an integer.")
        out = int(number)
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {out}.")
    return out


def check_count(value: Any, name: str) -> int:
    """A non-negative integer (a count of rows, voxels, experiments).

    Parameters
    ----------
    value : object
    name : str

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        As :func:`check_integer` with ``minimum=0``.

    Examples
    --------
    >>> check_count(-3, "top")
    Traceback (most recent call last):
    ...
    ValueError: top must be at least 0, got -3.
    """
    return check_integer(value, name, minimum=0)


def check_finite(value: Any, name: str, unit: str = "m") -> float:
    """A finite real number (a coordinate).

    Parameters
    ----------
    value : object
    name : str
    unit : str, default "m"
        The unit the number is in, for the message.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is NaN or infinite.

    Examples
    --------
    >>> check_finite(float("nan"), "ap")
    Traceback (most recent call last):
    ...
    ValueError: ap must be a finite number (in m), got nan.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number (in {unit}), got the boolean {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number (in {unit}), got {value!r}.") from None
    if not np.isfinite(number):
        raise ValueError(f"{name} must be a finite number (in {unit}), got {value!r}.")
    return number


def check_between(value: Any, name: str, low: float, high: float, unit: str = "") -> float:
    """A real number in ``[low, high]``; strings are refused, not parsed.

    Parameters
    ----------
    value : object
    name : str
    low, high : float
        The bounds, both allowed.
    unit : str, optional
        What the number is, for the message.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a string or a boolean is refused).
    ValueError
        If it is NaN, infinite or outside ``[low, high]``.

    Examples
    --------
    >>> check_between(0.6, "min_reliability", 0, 1)
    0.6
    >>> check_between("0.6", "min_reliability", 0, 1)
    Traceback (most recent call last):
    ...
    TypeError: min_reliability must be a number from 0 to 1, got the string '0.6': pass 0.6.
    """
    what = f" ({unit})" if unit else ""
    span = f"a number from {low:g} to {high:g}{what}"
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be {span}, got the string {value!r}: pass {value!s}.")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"{name} must be {span}, got {value!r}.")
    number = float(value)
    if not low <= number <= high:  # also NaN
        raise ValueError(f"{name} must be {span}, got {value!r}.")
    return number


def check_random_state(value: Any, name: str = "random_state", *, generator: bool = True) -> Any:
    """A seed: None, a non-negative integer or, where allowed, a ``numpy.random.Generator``.

    Parameters
    ----------
    value : object
    name : str, default "random_state"
    generator : bool, default True
        Accept a ``numpy.random.Generator`` too (it then goes on as it is).

    Returns
    -------
    None, int or numpy.random.Generator

    Raises
    ------
    TypeError
        For anything else (a string, a float, a boolean).
    ValueError
        For a negative integer.

    Examples
    --------
    >>> check_random_state("x")
    Traceback (most recent call last):
    ...
    TypeError: random_state must be None, a non-negative integer or a numpy Generator, got 'x': \
pass e.g. random_state=0 for repeatable results.
    """
    if value is None or (generator and isinstance(value, np.random.Generator)):
        return value
    integral = isinstance(value, (numbers.Integral, np.integer))
    if isinstance(value, (bool, np.bool_)) or not integral:
        kinds = (
            "None, a non-negative integer or a numpy Generator"
            if generator
            else "None or a non-negative integer"
        )
        raise TypeError(
            f"{name} must be {kinds}, got {value!r}: pass e.g. {name}=0 for repeatable results."
        )
    return check_integer(value, name, minimum=0)


def check_bool(value: Any, name: str, *, allow_none: bool = False) -> bool | None:
    """``value`` if it is a boolean (True or False), never a truthy stand-in.

    Parameters
    ----------
    value : object
    name : str
    allow_none : bool, default False
        Accept None (an unset option) too.

    Returns
    -------
    bool or None

    Raises
    ------
    TypeError
        For anything else: ``"no"`` would count as True, ``0`` as False.

    Examples
    --------
    >>> check_bool(True, "lipids")
    True
    >>> check_bool("no", "include_non_neuronal")
    Traceback (most recent call last):
    ...
    TypeError: include_non_neuronal must be True or False, got the string 'no'.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value is None and allow_none:
        return None
    got = f"the string {value!r}" if isinstance(value, str) else repr(value)
    also = " or None" if allow_none else ""
    raise TypeError(f"{name} must be True or False{also}, got {got}.")
