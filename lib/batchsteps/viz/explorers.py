r"""Explorers that recompute in the browser, with no kernel: HTML + JavaScript from sympy.

:func:`explorer` turns a bound (any :class:`~batchsteps.theory.Bound`, or a tuned-rate law with
``steps`` and ``lr``) into one self-contained HTML element: a slider per parameter over its
allowed range, the critical batch size :math:`b^\star`, the pole :math:`b_0` and
:math:`K_{\min}` as text, and log-log plots of :math:`K(b)` and :math:`N(b) = b K(b)` redrawn on
every move. The JavaScript of every formula is printed from the bound's sympy expressions by
``sympy.printing.jscode``; the hand-written runtime (``explorer.js``) only draws. The same HTML
is the output in Jupyter (JupyterLab, classic, VS Code) and in the built book.

:func:`needs_kernel` wraps an ipywidgets panel so that a page without a kernel shows its state
at build time and says that the live panel needs a kernel.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

import matplotlib.pyplot as plt
import sympy as sp
from sympy.printing.jscode import jscode

from .. import validation
from ..theory import template
from ..theory.bounds import NumericBound, Parameter
from ..theory.notation import NAME_OF, symbols
from .style import OPTIMIZER_STYLES

_TEXT = {
    "alpha": "α",
    "sigma": "σ",
    "Delta": "Δ",
    "epsilon": "ε",
    "beta": "β",
    "beta1": "β₁",
    "beta2": "β₂",
    "h_min": "h_min",
    "h_max": "h_max",
    "eps_t": "ε̃",
    "t": "t",
}
_POSITIONS = 1000  # slider positions, as in explorer.js
_counter = itertools.count()


class Law(Protocol):
    """What :func:`explorer` reads from a bound: its name, ``steps`` K(b) as a sympy expression
    in ``b`` and the parameters, and the parameters' ranges (``assumptions``). ``sfo``,
    ``min_batch``, ``critical_batch``, ``min_steps``, ``lr``, ``conditions``, ``C``, ``target``
    and ``subs`` are used where present."""

    name: str
    steps: sp.Expr
    assumptions: Mapping[sp.Symbol, Parameter]


@cache
def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def format_value(x: float) -> str:
    """A number to four significant digits, as the explorer prints it.

    >>> format_value(1234.5678), format_value(2.0), format_value(3.2e-7)
    ('1235', '2', '3.2×10⁻⁷')
    """
    if not math.isfinite(x):
        return "∞"
    r = float(f"{x:.4g}")
    if r == 0 or 1e-3 <= abs(r) < 1e6:
        return f"{r:.15g}"
    mantissa, exponent = f"{r:.3e}".split("e")
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return f"{float(mantissa):.15g}×10{str(int(exponent)).translate(sup)}"


@dataclass(frozen=True)
class Explorer:
    r"""A kernel-free explorer of :math:`K(b)` and :math:`N(b)`: self-contained HTML and JS.

    ``formulas`` holds the JavaScript generated from each sympy expression (``steps``,
    ``sfo``, ``min_batch``, ``critical_batch``, ``min_steps``, and ``lr`` for a tuned law);
    ``values`` the starting parameter values and ``vary`` the names that have sliders.
    """

    name: str
    kind: str
    values: Mapping[str, float]
    vary: tuple[str, ...]
    formulas: Mapping[str, str]
    html: str = field(repr=False)

    def _repr_html_(self) -> str:
        return self.html


def _quantities(bound: Any) -> dict[str, sp.Expr]:
    """K, N, b0, b*, K_min (and the tuned rate) of ``bound``, from its own fields where it has
    them, else derived from ``steps`` by the definition the book uses: ``K(b*) = 2 K_min``."""
    b = symbols.b
    steps = sp.sympify(bound.steps)
    got = {name: getattr(bound, name, None) for name in ("sfo", "min_steps", "min_batch")}
    sfo = got["sfo"] if got["sfo"] is not None else sp.factor(b * steps)
    min_steps = got["min_steps"]
    if min_steps is None:
        min_steps = sp.simplify(sp.limit(steps, b, sp.oo))
    min_batch = got["min_batch"]
    if min_batch is None:
        _, denominator = sp.fraction(sp.together(steps))
        poles = sp.solve(denominator, b)
        if len(poles) > 1:
            raise ValueError(f"steps={steps} has several poles {poles}; give the bound a min_batch")
        min_batch = poles[0] if poles else sp.Integer(0)
    critical = getattr(bound, "critical_batch", None)
    if critical is None:
        (critical,) = sp.solve(sp.Eq(steps, 2 * min_steps), b)
    out = {
        "steps": steps,
        "sfo": sfo,
        "min_batch": min_batch,
        "critical_batch": critical,
        "min_steps": min_steps,
    }
    lr = getattr(bound, "lr", None)
    if isinstance(lr, sp.Expr):
        out["lr"] = lr
    return out


def _checks(bound: Any) -> list[tuple[sp.Expr, bool, str]]:
    """``(expression, inclusive, meaning)``: each expression must be positive (non-negative if
    inclusive) for the bound to apply: the step-size conditions and the target above C."""
    checks = [
        (c.upper - c.symbol, bool(getattr(c, "inclusive", False)), c.reason)
        for c in getattr(bound, "conditions", ())
    ]
    C, target = getattr(bound, "C", None), getattr(bound, "target", None)
    if C is not None and target is not None and sp.sympify(C) != 0:
        meaning = "the target must exceed the bound's term C, which does not vanish as b grows"
        checks.append((target - C, False, meaning))
    return checks


def _names(bound: Any) -> dict[sp.Symbol, str]:
    """Keyword name of each parameter symbol (``alpha`` for the symbol printed as α)."""
    own = getattr(bound, "names", None) or {}
    return {sym: own.get(sym) or NAME_OF[sym] for sym in bound.assumptions}


def _js_function(expr: sp.Expr, names: Mapping[sp.Symbol, str], batch: bool) -> str:
    """``function (p[, b]) {...}`` computing ``expr``: jscode of the sympy expression, with the
    book's symbols renamed to their keyword names and read from the parameter object ``p``."""
    plain = {symbols.b: sp.Symbol("b")} | {sym: sp.Symbol(n) for sym, n in names.items()}
    unknown = sp.sympify(expr).free_symbols - set(plain)
    if unknown:
        raise ValueError(f"expression {expr} has symbols {unknown} that are not parameters")
    body = jscode(sp.sympify(expr).xreplace(plain))
    reads = ", ".join(f"{n} = p[{json.dumps(n)}]" for n in names.values())
    args = "p, b" if batch else "p"
    return f"function ({args}) {{ var {reads}; return {body}; }}"


def _slider(spec: Parameter, value: float) -> dict[str, float | bool]:
    """The slider range of a parameter: its ``typical`` range, widened to hold ``value``."""
    lo, hi = min(spec.typical[0], value), max(spec.typical[1], value)
    log = spec.log_scale and lo > 0
    return {"lo": lo, "hi": hi, "log": log}


def _position(slider: Mapping[str, float | bool], value: float) -> int:
    lo, hi = float(slider["lo"]), float(slider["hi"])
    if slider["log"]:
        t = math.log(value / lo) / math.log(hi / lo)
    else:
        t = (value - lo) / (hi - lo)
    return round(min(1.0, max(0.0, t)) * _POSITIONS)


def _validate(bound: Any, params: Mapping[str, float] | None, vary: Sequence[str] | None):
    what = "a Bound or a tuned-rate law (with .steps and .assumptions)"
    validation.attributes("bound", bound, ("steps", "assumptions", "name"), what)
    names = _names(bound)
    specs = {n: bound.assumptions[sym] for sym, n in names.items()}
    params = validation.mapping_of(
        "params", {} if params is None else params, what="a mapping name -> value", nonempty=False
    )
    validation.keys(f"params (the parameters of {bound.name})", params, specs)
    given = {name: validation.real(name, value, finite=False) for name, value in params.items()}
    values = {n: given.get(n, spec.default) for n, spec in specs.items()}
    if hasattr(bound, "subs"):
        bound.subs(**values)  # raises ValueError naming the parameter outside its range
    if vary is None:
        vary = tuple(specs)
    vary = validation.sequence_of(
        "vary", vary, lambda name, v: validation.one_of(name, v, specs), min_size=0
    )
    return names, specs, values, tuple(vary)


def _check_range(batch_range: tuple[float, float] | None) -> tuple[float, float] | None:
    if batch_range is None:
        return None
    allowed = "a pair (low, high) of finite real numbers with 0 < low < high"
    if isinstance(batch_range, str) or not isinstance(batch_range, Sequence):
        raise validation.type_error("batch_range", batch_range, allowed)
    ends = validation.sequence_of("batch_range", batch_range, validation.real)
    if len(ends) != 2 or not 0 < ends[0] < ends[1]:
        raise validation.value_error("batch_range", batch_range, allowed)
    return ends[0], ends[1]


def explorer(
    bound: Law,
    params: Mapping[str, float] | None = None,
    *,
    vary: Sequence[str] | None = None,
    batch_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> Explorer:
    r"""A kernel-free explorer of ``bound``: sliders, b*, b0, K_min, and K(b), N(b) plotted.

    Shows :math:`K(b)`, :math:`N(b) = bK(b)`, :math:`b_0`, :math:`b^\star` and
    :math:`K_{\min}` as generated JavaScript; where the bound has no such field they follow
    from :math:`K(b)`: :math:`K_{\min} = \lim_{b\to\infty} K(b)`,
    :math:`K(b^\star) = 2K_{\min}`, :math:`b_0` the largest pole of :math:`K` (else 0).

    Parameters
    ----------
    bound
        A :class:`~batchsteps.theory.Bound`, a :class:`~batchsteps.theory.TunedBound`
        (its ``lr`` is shown too) or :func:`template_law`.
    params
        Starting values by keyword name (``alpha=0.1``); the others take their defaults. Checked
        with ``bound.subs``: every value must lie in its allowed range.
    vary
        Names that get a slider (default: all); the others are fixed and listed.
    batch_range
        A fixed window ``(low, high)`` of batch sizes, ``0 < low < high``; by default the
        window follows :math:`b^\star` in powers of two.
    title
        The heading of the explorer.

    >>> from batchsteps.theory import bound
    >>> e = explorer(bound("sgd"), {"alpha": 0.5})
    >>> 'data-output="critical-batch"' in e.html, e.vary[:2]
    (True, ('L', 'sigma'))
    """
    names, specs, values, vary = _validate(bound, params, vary)
    if title is not None:
        validation.string("title", title)
    window = _check_range(batch_range)
    quantities = _quantities(bound)
    formulas = {
        key: _js_function(expr, names, batch=key in ("steps", "sfo", "lr"))
        for key, expr in quantities.items()
    }
    checks = [(_js_function(e, names, False), inc, msg) for e, inc, msg in _checks(bound)]
    kind = "tuned-rate" if "lr" in quantities else "constant-rate"
    style = OPTIMIZER_STYLES.get(bound.name)
    label = style.label if style else bound.name
    sliders = {n: _slider(specs[n], values[n]) for n in vary}
    tuned_note = ", learning rate tuned per batch size" if kind == "tuned-rate" else ""
    spec = {
        "name": bound.name,
        "values": values,
        "params": [{"name": n, **sliders[n]} for n in vary],
        "batch_range": list(window) if window else None,
        "color": style.color if style else "#0072B2",
        "labels": {"steps": "steps K(b)", "sfo": "gradients N(b) = b K(b)"},
    }
    by_symbol = {sym: values[n] for sym, n in names.items()}
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    page = _render(
        Page(
            element=f"bs-explorer-{next(_counter)}-{digest}",
            spec=spec,
            formulas=formulas,
            checks=checks,
            kind=kind,
            title=title or f"Explore the {label} bound" + tuned_note,
            meanings={n: s.meaning for n, s in specs.items()},
            sliders=sliders,
            initial=_initial_numbers(quantities, by_symbol),
        )
    )
    return Explorer(bound.name, kind, values, vary, formulas, page)


def _initial_numbers(quantities: Mapping[str, sp.Expr], by_symbol: Mapping[sp.Symbol, float]):
    """The text outputs at the starting values, so the page reads right before any script."""
    bstar = float(quantities["critical_batch"].subs(by_symbol))
    at_star = {**by_symbol, symbols.b: bstar}
    out = {
        "critical-batch": bstar,
        "min-batch": float(sp.sympify(quantities["min_batch"]).subs(by_symbol)),
        "min-steps": float(quantities["min_steps"].subs(by_symbol)),
        "steps-at-critical": float(quantities["steps"].subs(at_star)),
        "sfo-at-critical": float(quantities["sfo"].subs(at_star)),
    }
    if "lr" in quantities:
        out["lr-at-critical"] = float(quantities["lr"].subs(at_star))
    return out


@dataclass(frozen=True)
class Page:
    """What :func:`_render` needs to write one explorer's HTML."""

    element: str
    spec: Mapping[str, Any]
    formulas: Mapping[str, str]
    checks: Sequence[tuple[str, bool, str]]
    kind: str
    title: str
    meanings: Mapping[str, str]
    sliders: Mapping[str, Mapping[str, float | bool]]
    initial: Mapping[str, float]


# data-output name and label of each text result; the critical batch carries "critical-batch"
_RESULTS = (
    ("critical-batch", "critical batch size b⋆"),
    ("min-batch", "b₀ (below it no K reaches the target)"),
    ("min-steps", "K_min"),
    ("steps-at-critical", "K(b⋆)"),
    ("sfo-at-critical", "N(b⋆)"),
    ("lr-at-critical", "tuned rate α⋆(b⋆)"),
)


def _output(key: str, value: float) -> str:
    return f'<output data-output="{key}" data-value="{value!r}">{format_value(value)}</output>'


def _render(page: Page) -> str:
    esc, el, values = html.escape, page.element, page.spec["values"]
    rows = "".join(
        f'<label for="{el}-{n}">{esc(_TEXT.get(n, n))}: {esc(page.meanings[n])}</label>'
        f'<input type="range" id="{el}-{n}" data-param="{n}" min="0" max="{_POSITIONS}" '
        f'step="1" value="{_position(page.sliders[n], values[n])}">{_output(f"param-{n}", v)}'
        for n, v in values.items()
        if n in page.sliders
    )
    fixed = [f"{_TEXT.get(n, n)} = {format_value(v)}" for n, v in values.items()]
    fixed = [f for f, n in zip(fixed, values, strict=True) if n not in page.sliders]
    shown = "".join(
        f"<span>{esc(text)} = {_output(key, page.initial[key])}</span>"
        for key, text in _RESULTS
        if key in page.initial
    )
    code = ",\n".join(f"  {json.dumps(k)}: {v}" for k, v in page.formulas.items())
    check_code = ",\n".join(
        f"  {{test: {js}, inclusive: {json.dumps(inc)}, message: {json.dumps(msg)}}}"
        for js, inc, msg in page.checks
    )
    # Find the element: next to the running script (JupyterLab, VS Code, the book), else by id,
    # waiting for it to be attached where the script runs first (the classic notebook).
    mount = (
        "(function () {\n"
        "var script = document.currentScript;\n"
        "var f = {\n" + code + ",\n checks: [\n" + check_code + "]};\n"
        f"var spec = {json.dumps(page.spec)};\n"
        "function attempt(tries) {\n"
        "  var root = script && script.previousElementSibling;\n"
        f'  if (!root || root.id !== "{el}") {{ root = document.getElementById("{el}"); }}\n'
        "  if (root) { window.batchstepsExplorer.mount(root, spec, f); }\n"
        "  else if (tries < 200) { setTimeout(function () { attempt(tries + 1); }, 50); }\n"
        "}\n"
        "attempt(0);\n"
        "})();"
    )
    fixed_html = f'<p class="bs-fixed">Fixed: {esc(", ".join(fixed))}.</p>' if fixed else ""
    return (
        f'<div class="bs-explorer" id="{el}" data-explorer="{esc(page.spec["name"])}" '
        f'data-kind="{page.kind}" data-ready="false">'
        f"<style>{_asset('explorer.css')}</style>"
        f'<p class="bs-title">{esc(page.title)}</p>'
        f'<div class="bs-sliders">{rows}</div>{fixed_html}'
        '<div class="bs-status" role="status" data-output="status"></div>'
        f'<div class="bs-results">{shown}</div>'
        '<div class="bs-panels">'
        '<svg data-panel="steps" viewBox="0 0 340 230" role="img" '
        'aria-label="steps K(b) against batch size, log-log"></svg>'
        '<svg data-panel="sfo" viewBox="0 0 340 230" role="img" '
        'aria-label="gradients N(b) against batch size, log-log"></svg></div>'
        '<p class="bs-note">Computed in your browser by formulas generated from the sympy '
        "expressions of the bound; no kernel needed.</p>"
        "</div>"
        f"<script>{_asset('explorer.js')}\n{mount}</script>"
    )


@dataclass(frozen=True)
class TemplateLaw:
    r"""The template itself, :math:`A/K + B/b + C \le \tilde\varepsilon`, with its four constants
    as parameters: what every optimizer's bound instantiates (:func:`template_law`).

    ``steps``, ``sfo``, ``min_batch``, ``critical_batch``, ``min_steps`` are the expressions of
    :func:`batchsteps.theory.template.derive`; ``subs(A=..., B=..., C=..., eps_t=...)`` gives the
    same numeric object as :meth:`Bound.subs <batchsteps.theory.Bound.subs>`.
    """

    name: str
    steps: sp.Expr
    sfo: sp.Expr
    min_batch: sp.Expr
    critical_batch: sp.Expr
    min_steps: sp.Expr
    C: sp.Expr
    target: sp.Expr
    assumptions: Mapping[sp.Symbol, Parameter]
    names: Mapping[sp.Symbol, str]

    def subs(self, **values: float) -> NumericBound:
        """Numeric law; ``ValueError`` for a missing, unknown or out-of-range value, or
        ``eps_t <= C``; ``TypeError`` for a value that is not a real number."""
        symbol_of = {n: s for s, n in self.names.items()}
        validation.keys("the template's parameters", values, symbol_of, required=True)
        checked = {n: self.assumptions[s].check(n, values[n]) for n, s in symbol_of.items()}
        if not checked["eps_t"] > checked["C"]:
            raise validation.value_error("eps_t", values["eps_t"], f"> C={values['C']!r}")
        A, B, C, eps_t = (checked[n] for n in ("A", "B", "C", "eps_t"))
        return NumericBound(self, dict(values), A, B, C, eps_t)


@cache
def template_law() -> TemplateLaw:
    r"""The general template as an explorable law, parameters ``A, B, C, eps_t``.

    >>> template_law().subs(A=10.0, B=2.0, C=0.0, eps_t=0.5).critical_batch
    8.0
    """
    r = template.derive()
    specs = {
        template.A: Parameter("constant of the 1/K term", typical=(0.1, 1e4), default=100.0),
        template.B: Parameter("constant of the 1/b term", typical=(0.001, 100.0)),
        template.C: Parameter(
            "term that vanishes with neither K nor b",
            low_closed=True,
            typical=(0.0, 0.5),
            default=0.0,
            log_scale=False,
        ),
        template.eps_t: Parameter("target of the bound", typical=(0.001, 10.0), default=0.1),
    }
    names = {template.A: "A", template.B: "B", template.C: "C", template.eps_t: "eps_t"}
    return TemplateLaw(
        "template",
        r.steps,
        r.sfo,
        r.min_batch,
        r.critical_batch,
        r.min_steps,
        template.C,
        template.eps_t,
        specs,
        names,
    )


@dataclass(frozen=True)
class NeedsKernel:
    """An ipywidgets panel plus the HTML shown where no kernel runs it (the built book)."""

    widget: Any
    snapshot: str = field(repr=False)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_())
        bundle["text/html"] = self.snapshot
        return bundle


def needs_kernel(widget: Any, figure: Any = None, *, what: str = "This panel") -> NeedsKernel:
    """Wrap ``widget`` so a page without a kernel shows ``figure`` (its state at build time)
    under a visible note that the live panel needs a kernel and how to get one.

    In Jupyter the live widget is shown; the book's HTML renders the ``text/html`` fallback
    (``_config.yml`` gives widget views no priority there). ``figure`` (matplotlib) is
    rendered to PNG and closed, so Jupyter's inline backend does not show it a second time.
    """
    validation.attributes("widget", widget, ("_repr_mimebundle_",), "an ipywidgets widget")
    validation.string("what", what)
    image = ""
    if figure is not None:
        validation.attributes("figure", figure, ("savefig",), "a matplotlib figure or None")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        alt = "the panel as computed when the book was built"
        image = f'<img alt="{alt}" src="data:image/png;base64,{data}">'
    note = (
        f"<strong>{html.escape(what)} needs a running Python kernel.</strong> "
        "Launch this page on Binder, Colab or JupyterHub (the rocket button at the top), "
        "or open the notebook in Jupyter, to move its sliders. Shown here: its state when "
        "the book was built."
    )
    snapshot = (
        f"<style>{_asset('explorer.css')}</style>"
        f'<div class="bs-needs-kernel" data-needs-kernel="true">'
        f'<p class="bs-kernel-note">{note}</p>{image}</div>'
    )
    return NeedsKernel(widget, snapshot)
