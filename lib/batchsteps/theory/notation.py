"""The sympy symbols of the book, one per quantity, with the signs the mathematics gives them."""

from __future__ import annotations

from types import SimpleNamespace

import sympy as sp

_POSITIVE = ("b", "K", "epsilon", "L", "sigma", "Delta", "alpha", "G", "D", "d", "h_min", "h_max")
_POSITIVE += ("t",)  # momentum's Young constant in units of its best value: rho = t sqrt(q)
_NONNEGATIVE = ("beta", "beta1", "beta2")

_LATEX = {
    "epsilon": r"\varepsilon",
    "sigma": r"\sigma",
    "Delta": r"\Delta",
    "alpha": r"\alpha",
    "beta": r"\beta",
    "beta1": r"\beta_1",
    "beta2": r"\beta_2",
    "h_min": r"h_{\min}",
    "h_max": r"h_{\max}",
}


def _make(name: str, **assumptions: bool) -> sp.Symbol:
    return sp.Symbol(_LATEX.get(name, name), real=True, **assumptions)


symbols = SimpleNamespace(
    **{name: _make(name, positive=True) for name in _POSITIVE},
    **{name: _make(name, nonnegative=True) for name in _NONNEGATIVE},
)
"""Namespace of the book's symbols: ``symbols.b``, ``symbols.alpha``, ... (see DESIGN.md)."""

BY_NAME: dict[str, sp.Symbol] = dict(vars(symbols))
"""Keyword name (as ``Bound.subs`` takes it) -> symbol."""

NAME_OF: dict[sp.Symbol, str] = {sym: name for name, sym in BY_NAME.items()}
"""Symbol -> keyword name."""
