"""Every sentence of the book that states a result, and what guards it.

A chapter may state a result on computed data only in one of three ways (issue 15):

- **generated**: the words come from the data, glued (``{glue:md}`key``` or ``{glue:text}`key```)
  from a library function that computes them from the runs, so they change when the runs do;
- **guarded**: the sentence is written by hand, preceded by a MyST comment ``% guard: <id>``,
  and a code cell of the same chapter asserts what it says, with the message
  ``"guard <id>: ..."``; the build executes every chapter, so the book fails to build when the
  data stop supporting the sentence;
- **checked on the page**: the paragraph ends its markdown cell with a colon, and the code cell
  right after it asserts what it says ("sympy confirms that the two sides agree:").

``CLAIMS`` lists the generated and guarded sentences with their guards. The tests check that
each sentence is in its chapter under its guard, that each generated one is glued from the
function named, that each guarded one has a real assertion, and that no guard in a chapter is
missing here.

Nothing in ``CLAIMS`` stops a new hand-written verdict, so the chapters are also scanned: every
prose paragraph (math, code, citations, directives' options and MyST comments left out) that
uses verdict vocabulary (``VERDICT``: "agrees", "confirms", "consistent with", "fits better",
"the bound holds", "sympy checks"...) must be generated (in the same sentence, a glue role
whose key a claim of ``CLAIMS`` lists as glued from its function: a glued number beside a
hand-written verdict does not count), guarded, or checked on the page, or be listed in
``ALLOWED`` with the reason it states no result of this book's data or computation (the
literature's, or a step of a proof). Each entry of ``ALLOWED`` must still name a paragraph the
scan flags, so the list cannot go stale.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import pytest

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


@dataclass(frozen=True)
class Claim:
    """A result-stating sentence: ``chapter``, a fragment of its text (whitespace collapsed),
    and its guard: ``glue`` keys with the library function each is computed by, or the id of
    an ``assert`` guard."""

    chapter: str
    sentence: str
    glued: tuple[tuple[str, str], ...] = ()
    guard: str | None = None


CLAIMS = (
    # optimal.md: the theory's ratios, the verdicts, the left end, the budget, the rate
    Claim(
        "optimal.md",
        "Judged with the intervals and the criteria of the claims: {glue:md}`optimal_theory_check`",
        glued=(("optimal_theory_check", "ex.theory_check"),),
    ),
    Claim(
        "optimal.md",
        "Momentum against SGD, with the gradient target: {glue:md}`optimal_theory_check`",
        glued=(("optimal_theory_check", "ex.theory_check"),),
    ),
    Claim(
        "optimal.md",
        "with one constant rate per optimizer chosen by one rule, {glue:md}`optimal_left_end`",
        glued=(("optimal_left_end", "ex.left_end_summary"),),
    ),
    Claim(
        "optimal.md",
        "Gradient target: {glue:md}`optimal_budget_gradient`. Loss target: "
        "{glue:md}`optimal_budget_loss`",
        glued=(("optimal_budget_{key}", "ex.budget_verdict"),),
    ),
    Claim(
        "optimal.md",
        "The fitted critical batch grows with the rate, its interval at each rate above the one "
        "at the rate below: {glue:md}`optimal_rate_bstar`. The AIC prefers "
        "{glue:md}`optimal_rate_preferences`; for the curve tuned among the three rates it "
        "prefers {glue:md}`optimal_rate_tuned`",
        glued=(
            ("optimal_rate_bstar", "swept.fits"),
            ("optimal_rate_preferences", "ex.law_preference"),
            ("optimal_rate_tuned", "ex.law_preference"),
        ),
        guard="optimal-rate-moves",
    ),
    Claim(
        "optimal.md",
        "**Claim 1**, a critical batch past which the steps barely fall: {glue:md}`optimal_claim1`",
        glued=(("optimal_{key}", "ex.summary(verdict)"),),
    ),
    Claim(
        "optimal.md",
        "Verdicts on Fashion-MNIST: claim 1 {glue:md}`optimal_fashion_claim1`",
        glued=(("optimal_fashion_{key}", "ex.summary(ex.verdicts(fashion, fashion_fits))"),),
    ),
    Claim(
        "optimal.md",
        "Runs: {glue:md}`optimal_status_gradient`",
        glued=(("optimal_status_{key}", "status_summary"),),
    ),
    Claim(
        "optimal.md",
        "Runs: {glue:md}`optimal_fashion_status`",
        glued=(("optimal_fashion_status", "fashion_ended"),),
    ),
    Claim(
        "optimal.md",
        "doubling the rate about halves them (in proportion to $1/\\alpha$), and each further "
        "doubling up to the fastest rate cuts them by less than the one before",
        guard="optimal-tuning-slope",
    ),
    # nqm.md: the poles, the engine
    Claim(
        "nqm.md",
        "every one of the {glue:text}`nqm_pole_seeds` runs reaches the target",
        guard="nqm-poles",
    ),
    Claim("nqm.md", "an interval that excludes both other numbers", guard="nqm-poles"),
    Claim(
        "nqm.md",
        "By it, SGD {glue:text}`nqm_engine_sgd_verdict` and momentum "
        "{glue:text}`nqm_engine_mom_verdict`",
        glued=(
            ("nqm_engine_sgd_verdict", "sgd_check.verdict()"),
            ("nqm_engine_mom_verdict", "mom_check.verdict()"),
        ),
    ),
    Claim(
        "nqm.md",
        "The training engine's sampled runs agree with the exact expectation by a criterion",
        guard="nqm-engine",
    ),
    # sgd.md: the measured pole, at the constant rate and under a decaying one
    Claim(
        "sgd.md",
        "Measured, the decaying rate has no pole: every one of its "
        "{glue:text}`sgd_schedule_runs` runs reaches the target, down to $b = 1$",
        guard="sgd-schedule-pole",
    ),
    Claim(
        "sgd.md",
        "At the constant rate no run reaches it within {glue:text}`sgd_schedule_budget` steps at "
        "$b \\le$ {glue:text}`sgd_schedule_never`, and every run does from $b =$ "
        "{glue:text}`sgd_schedule_always` on, just below $b_0$",
        guard="sgd-schedule-pole",
    ),
    # tuned.md: which law the data follow, the edges of the rate grids
    Claim(
        "tuned.md",
        "Which law the points follow, computed: {glue:text}`tuned_published_verdict`",
        glued=(("tuned_published_verdict", "law_verdict(published_fits)"),),
    ),
    Claim(
        "tuned.md",
        "each) the tuned-rate law fits better: its RMSE of $\\log K$ is at most",
        guard="tuned-pub-wins",
    ),
    Claim(
        "tuned.md",
        "The constant-rate law cannot bend enough: its fitted pole $b_0$ sits at",
        guard="tuned-pub-edge",
    ),
    Claim(
        "tuned.md",
        "Computed: {glue:text}`tuned_digits_verdict`",
        glued=(("tuned_digits_verdict", "law_verdict("),),
    ),
    Claim(
        "tuned.md",
        "(the AIC prefers {glue:text}`tuned_digits_preference`)",
        glued=(("tuned_digits_preference", "law_preference(digits_fits)"),),
    ),
    Claim(
        "tuned.md",
        "Published language-model measurements that retune the rate: "
        "{glue:text}`tuned_published_verdict`; our own tuned sweep: "
        "{glue:text}`tuned_digits_verdict`",
        glued=(
            ("tuned_published_verdict", "law_verdict(published_fits)"),
            ("tuned_digits_verdict", "law_verdict("),
        ),
    ),
    Claim(
        "tuned.md",
        "The two ends, computed: {glue:text}`tuned_digits_smallest`; "
        "{glue:text}`tuned_digits_largest`",
        glued=(
            ("tuned_digits_smallest", "describe_rates(digits, smallest)"),
            ("tuned_digits_largest", "describe_rates(digits, largest)"),
        ),
    ),
    Claim(
        "tuned.md",
        "At the largest batch the best rate is the largest tried",
        guard="tuned-digits-edges",
    ),
    # your_model.md: the law the sweep follows
    Claim(
        "your_model.md",
        "The AIC prefers {glue:text}`mine_preference`",
        glued=(("mine_preference", "law_preference(fits)"),),
    ),
    # the engine's counts against the first passage (benchmarks/first_passage.py's audit)
    Claim(
        "optimal.md",
        "On digits the loss target is checked after every step, and that costs little",
        guard="optimal-loss-first-passage",
    ),
    Claim(
        "optimal.md",
        "the measured critical batch of the constant-rate fit with its 95% interval, both ways), "
        "{glue:md}`optimal_audit_verdicts`",
        glued=(("optimal_audit_verdicts", "ex.verdict_changes"),),
    ),
    Claim(
        "tuned.md",
        "The steps are first passages: the engine checks a loss target after every step",
        guard="tuned-first-passage",
    ),
    Claim(
        "tuned.md",
        "with a full check after every step: {glue:md}`tuned_digits_audit`",
        glued=(("tuned_digits_audit", "tuned_audit_text"),),
    ),
    Claim(
        "your_model.md",
        "with a check after every step: {glue:md}`mine_audit`",
        glued=(("mine_audit", "tuned_audit_text"),),
    ),
    # adam.md: the measured curves fall with b; the family's universal shape
    Claim(
        "adam.md",
        "Neither curve is flat. With every seed reaching the target, the median steps fall",
        guard="adam-falls",
    ),
    Claim(
        "adam.md",
        "Sympy confirms the universal shape for this family",
        guard="adam-universal",
    ),
    # template.md: the formula for b* against a brute-force search
    Claim(
        "template.md",
        "The formulas should also match a brute-force search",
        guard="template-grid",
    ),
    Claim(
        "template.md",
        "(relative gap {glue:text}`template_grid_relerr:.1e`, within the grid's spacing "
        "{glue:text}`template_grid_spacing:.1e`)",
        guard="template-grid",
    ),
    # setting.md, template.md, sgd.md, momentum.md: the bounds checked on runs
    Claim(
        "setting.md",
        "The mini-batch variance falls as $1/b$, as {prf:ref}`setting-variance-law` says, "
        "within sampling error",
        guard="setting-variance-law",
    ),
    Claim(
        "setting.md",
        "Drawn without replacement, it falls faster once the batch is a sizeable fraction",
        guard="setting-variance-law",
    ),
    Claim(
        "setting.md",
        "The $1/b$ law is exact with replacement and measured to within sampling error",
        guard="setting-variance-law",
    ),
    Claim(
        "sgd.md",
        "The bound holds, with room to spare: the measurement never reaches half of it",
        guard="sgd-bound-check",
    ),
    Claim("sgd.md", "their ratio never reaches the dotted line at 1", guard="sgd-bound-check"),
    Claim("sgd.md", "The bound is loose, and the reasons can be named", guard="sgd-bound-check"),
    Claim(
        "sgd.md",
        "the measured average gradient norm stays below the bound at every batch size and step "
        "count tried",
        guard="sgd-bound-check",
    ),
    Claim(
        "sgd.md",
        "The bound is loose: the measurement stays below half of it, and past the first "
        "{glue:text}`sgd_tightest_k` steps the factor grows with every doubling of $K$",
        guard="sgd-bound-check",
    ),
    Claim(
        "sgd.md",
        "Wherever the runs reach an average below $\\eps^2$ within {glue:text}`sgd_steps` steps "
        "they do so much sooner, in fewer than half the steps the bound asks for",
        guard="sgd-reached-sooner",
    ),
    Claim(
        "sgd.md",
        "the measured stationary values agree with $B/b$ within "
        "{glue:text}`sgd_quad_max_z:.1f` standard errors at every batch size",
        guard="sgd-quad-agree",
    ),
    Claim(
        "sgd.md",
        "so doubling the batch nearly halves the steps, and at large $b$ the steps level off",
        guard="sgd-schedule-regimes",
    ),
    Claim(
        "momentum.md",
        "Momentum (orange, dashed) tracks SGD run at the same effective rate",
        guard="momentum-effective-rate",
    ),
    Claim(
        "momentum.md",
        "and is far ahead of SGD at the same $\\alpha$",
        guard="momentum-effective-rate",
    ),
    Claim(
        "momentum.md",
        "So on this problem the measurements side with the second comparison: momentum with "
        "rate $\\alpha$ behaves like SGD with rate $\\alpha/(1-\\beta)$",
        guard="momentum-effective-rate",
    ),
    Claim(
        "momentum.md",
        "Measured on the digits problem, momentum behaves like SGD at the same effective rate",
        guard="momentum-effective-rate",
    ),
    Claim(
        "momentum.md",
        "Momentum's bound holds on the digits problem",
        guard="momentum-bound-check",
    ),
    Claim("momentum.md", "Right: the ratio stays below 1", guard="momentum-bound-check"),
    Claim("momentum.md", "still rising at the largest batch", guard="momentum-bound-check"),
    Claim(
        "momentum.md",
        "The bound holds at every batch size and step count checked, and is loose, as for SGD",
        guard="momentum-bound-check",
    ),
    # adam.md: the adaptive bound term by term, the measured section
    Claim(
        "adam.md",
        "The bound holds, and it is loose by many orders of magnitude",
        guard="adam-bound-holds",
    ),
    Claim(
        "adam.md",
        "The bound holds at every batch size, by orders of magnitude",
        guard="adam-bound-holds",
    ),
    Claim(
        "adam.md",
        "The bound holds at both batch sizes, and it is not loose here, less than twice the "
        "measured value at both",
        guard="adam-smooth-tight",
    ),
    Claim(
        "adam.md",
        "That last number is the story of this section: it equals $(1-\\beta_1)\\delta =$",
        guard="adam-hmin-floor",
    ),
    Claim(
        "adam.md",
        "It also settles whether {prf:ref}`adam-smooth-theorem` could apply to these runs",
        guard="adam-hmin-floor",
    ),
    Claim(
        "adam.md",
        "per-run bounds fall with $b$, but not through $B/b$, which is under 5% of every bound",
        guard="adam-identity",
    ),
    Claim(
        "adam.md",
        "{eq}`adam-identity` holds on the run exactly (averaged over the run, its two sides "
        "differ by {glue:text}`adam_identity_gap:.1e`, float32 rounding)",
        guard="adam-identity",
    ),
    Claim(
        "adam.md",
        "Step 4 uses two inequalities, and most of the gap is the first",
        guard="adam-step4",
    ),
    Claim(
        "adam.md",
        "The measured telescoped sum stays a factor {glue:text}`adam_tele_ratio:.3g` below its "
        "bound $dD\\hmax$ anyway, so the violation costs nothing here",
        guard="adam-monotone",
    ),
    Claim(
        "adam.md",
        "at its measured constants, by more than two orders of magnitude",
        guard="adam-monotone",
    ),
    Claim(
        "adam.md",
        "less than half: these are runs that learn, not runs that stand still",
        guard="adam-monotone",
    ),
    Claim(
        "adam.md",
        "Momentum moves the critical batch in opposite directions in the two analyses",
        guard="adam-shapes",
    ),
    Claim(
        "adam.md",
        "That factor is a choice made inside the proof, Young's constant $\\rho = \\sqrt q$",
        guard="adam-shapes",
    ),
    Claim(
        "adam.md",
        "every constant is available and the bound holds, but it is loose by orders of "
        "magnitude: almost all of its value is the term of step 4",
        guard="adam-learned",
    ),
    Claim(
        "adam.md",
        "momentum moves it up in the heavy-ball bound but, in the variational Adam-type bound, "
        "down until the floor $C$ nears the target",
        guard="adam-learned",
    ),
    Claim(
        "adam.md",
        "Runs: {glue:text}`adam_shape_rms_status`",
        glued=(("adam_shape_rms_status", "status_summary"),),
    ),
    # optimal.md, tuned.md, nqm.md, your_model.md, full_scale.md
    Claim(
        "optimal.md",
        "A critical batch measured at one constant rate is a property of that rate as much as of "
        "the problem",
        guard="optimal-rate-moves",
    ),
    Claim(
        "optimal.md",
        "and for SGD with the loss target the pole grows with the rate",
        guard="optimal-rate-moves",
    ),
    Claim(
        "tuned.md",
        'the two readings of "critical batch" differ by a factor '
        "{glue:text}`tuned_pub_readings_min:.0f` to {glue:text}`tuned_pub_readings_max:.0f`, more "
        "than an order of magnitude on every model size",
        guard="tuned-pub-readings",
    ),
    Claim(
        "tuned.md",
        "The circled rate is the one kept: it never falls as the batch size grows, and from $b =$ "
        "{glue:text}`tuned_digits_cap_from` on it is the grid's cap",
        guard="tuned-digits-kept",
    ),
    Claim(
        "tuned.md",
        "Runs: {glue:md}`tuned_digits_status`",
        glued=(("tuned_digits_status", "status_summary"),),
    ),
    Claim(
        "tuned.md",
        "Along these runs the squared gradient norm falls far more than the noise",
        guard="tuned-noise-falls",
    ),
    Claim(
        "tuned.md",
        "measured noise scale is a rough guide, not a replacement for the sweep: it is within a "
        "factor 10 of the fitted $B_{\\text{noise}}$ at most of the",
        guard="tuned-noise-guide",
    ),
    Claim(
        "tuned.md",
        "measured along training, the noise scale was within a factor 10 of the fitted "
        "$B_{\\text{noise}}$ at most of the recorded steps",
        guard="tuned-noise-guide",
    ),
    Claim(
        "nqm.md",
        "momentum and preconditioning need fewer steps than SGD at the largest batch",
        guard="nqm-tuned-order",
    ),
    Claim(
        "nqm.md",
        "at a fixed rate, the AIC prefers the constant-rate law, with its pole, for SGD's curve",
        guard="nqm-tuned-order",
    ),
    Claim(
        "nqm.md",
        "Momentum saves almost nothing at the smallest batch size",
        guard="nqm-tuned-order",
    ),
    Claim(
        "nqm.md",
        "preconditioning saves steps at every batch size, more at the largest",
        guard="nqm-tuned-order",
    ),
    Claim("nqm.md", "Both move the critical batch up", guard="nqm-tuned-order"),
    Claim(
        "nqm.md",
        "momentum and preconditioning reach their target in fewer steps than SGD at the largest "
        "batch and have larger fitted critical batches",
        guard="nqm-tuned-order",
    ),
    Claim(
        "your_model.md",
        "Runs: {glue:md}`mine_status`",
        glued=(("mine_status", "status_summary"),),
    ),
)

_GUARD_COMMENT = re.compile(r"^%\s*guard:\s*([a-z0-9-]+)\s*$", re.MULTILINE)
_GUARD_MESSAGE = re.compile(r"^guard ([a-z0-9-]+):")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _chapter(name: str) -> tuple[str, str]:
    """``(markdown, code)`` of a chapter: its prose and its code cells, each joined."""
    notebook = jupytext.read(CHAPTERS / name)
    prose = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    code = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    return prose, code


def _guarded_blocks(prose: str) -> dict[str, list[str]]:
    """For each ``% guard: id`` comment, the text of the block (up to the next blank line)
    right below it, or the caption of the figure directive right below it (MyST allows no
    comment inside a caption), whitespace collapsed."""
    blocks: dict[str, list[str]] = {}
    for match in _GUARD_COMMENT.finditer(prose):
        rest = prose[match.end() :].lstrip("\n")
        if rest.startswith("```"):  # a guarded figure: the guard covers its caption
            lines = rest.split("\n")[1:]
            while lines and (lines[0].startswith(":") or not lines[0].strip()):
                lines.pop(0)
            rest = "\n".join(lines)
        block = rest.split("\n\n", 1)[0].split("\n```", 1)[0]
        blocks.setdefault(match.group(1), []).append(_flat(block))
    return blocks


def _guard_asserts(code: str) -> dict[str, list[ast.Assert]]:
    """The ``assert`` statements of a chapter's code whose message is ``"guard <id>: ..."``."""
    found: dict[str, list[ast.Assert]] = {}
    tree = ast.parse("\n".join(line for line in code.splitlines() if not line.startswith("%")))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        if isinstance(node.msg, ast.Constant):
            message = str(node.msg.value)
        elif isinstance(node.msg, ast.JoinedStr):  # an f-string: its literal parts
            message = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.msg.values
            )
        else:
            continue
        match = _GUARD_MESSAGE.match(message)
        if match:
            found.setdefault(match.group(1), []).append(node)
    return found


def _glue_calls(code: str) -> dict[str, list[str]]:
    """For each ``glue("key", expr, ...)`` of a chapter (keys in f-strings keep their
    ``{...}`` placeholders), the source of ``expr`` and of the statement around it."""
    tree = ast.parse("\n".join(line for line in code.splitlines() if not line.startswith("%")))
    calls: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "glue"):
            continue
        key_node = node.args[0]
        if isinstance(key_node, ast.Constant):
            key = str(key_node.value)
        elif isinstance(key_node, ast.JoinedStr):
            key = "".join(
                str(v.value) if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                for v in key_node.values
            )
        else:
            continue
        calls.setdefault(key, []).append(ast.unparse(node.args[1]))
    return calls


def _assignments(code: str) -> dict[str, str]:
    """The source of the value last assigned to each plain name in a chapter's code."""
    tree = ast.parse("\n".join(line for line in code.splitlines() if not line.startswith("%")))
    values = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = ast.unparse(node.value)
    return values


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: f"{c.chapter}:{c.sentence[:40]}")
def test_every_listed_sentence_is_in_its_chapter(claim):
    prose, _ = _chapter(claim.chapter)
    assert _flat(claim.sentence) in _flat(prose), claim.sentence


@pytest.mark.parametrize(
    "claim", [c for c in CLAIMS if c.glued], ids=lambda c: f"{c.chapter}:{c.sentence[:40]}"
)
def test_a_generated_sentence_is_glued_from_the_function_that_computes_it(claim):
    _, code = _chapter(claim.chapter)
    calls, names = _glue_calls(code), _assignments(code)
    for key, function in claim.glued:
        assert key in calls, f"{claim.chapter} never glues {key!r}"
        # the glued expression, with the names it uses expanded once, must call the function
        sources = []
        for expr in calls[key]:
            used = re.findall(r"[A-Za-z_][A-Za-z_0-9]*", expr)
            sources.append(" ".join([expr, *(names.get(n, "") for n in used)]))
        assert any(function in source for source in sources), (key, function, calls[key])


@pytest.mark.parametrize(
    "claim", [c for c in CLAIMS if c.guard], ids=lambda c: f"{c.chapter}:{c.sentence[:40]}"
)
def test_a_guarded_sentence_sits_under_its_guard_and_the_guard_asserts_on_data(claim):
    prose, code = _chapter(claim.chapter)
    blocks = _guarded_blocks(prose).get(claim.guard, [])
    assert any(_flat(claim.sentence) in block for block in blocks), (
        f"{claim.sentence!r} is not in the block below '% guard: {claim.guard}'"
    )
    asserts = _guard_asserts(code).get(claim.guard, [])
    assert asserts, f"{claim.chapter} has no assert with message 'guard {claim.guard}: ...'"
    for node in asserts:
        # an assertion that cannot fail guards nothing: it must test computed names
        names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
        assert names, f"guard {claim.guard}: {ast.unparse(node.test)} tests no data"


def test_every_guard_in_the_chapters_is_listed_here():
    listed = {(c.chapter, c.guard) for c in CLAIMS if c.guard}
    for path in sorted(CHAPTERS.glob("*.md")):
        prose, code = _chapter(path.name)
        used = set(_guarded_blocks(prose)) | set(_guard_asserts(code))
        for guard in used:
            assert (path.name, guard) in listed, f"{path.name}: guard {guard!r} is not listed"
        # and a comment without an assertion (or the reverse) guards nothing
        assert set(_guarded_blocks(prose)) == set(_guard_asserts(code)), path.name


def test_the_sentences_issue_15_named_are_no_longer_in_the_book():
    gone = {
        "optimal.md": ["The direction of both is right, the size of the first is not",
                       "every measured curve has the template's left end",
                       "is in the direction the bounds predict"],
        "tuned.md": ["The tuned-rate law follows the data",
                     "the next larger rate no longer reaches the target",
                     "follows the points and the constant-rate law (solid) does not",
                     "in its favour", "matches the exact one"],
        "nqm.md": ["no number of steps reaches it",
                   "agree with the exact expectation within their standard errors"],
    }  # fmt: skip
    for chapter, sentences in gone.items():
        prose = _flat(_chapter(chapter)[0])
        for sentence in sentences:
            assert _flat(sentence) not in prose, (chapter, sentence)


# --- the verdict scan: a hand-written verdict must be glued, guarded or checked on the page ---

# Words that state a verdict on data or on a derivation. Where a bare word is common in this
# book's prose in another sense, the pattern keeps only its verdict use: "holds" after a bound,
# a claim, a law..., or before "on", "exactly", "at every"... (not "what to hold fixed");
# "checks" with sympy, numpy or the page as subject (not "the engine checks the target");
# "predicted" after "as", "than", "is what" (not "the theory predicts a band").
VERDICT = re.compile(
    r"""\b(?:
        (?:dis)?agree(?:s|d|ing|ment)?
      | confirm(?:s|ed|ing)?
      | (?:in)?consistent\ with
      | contradict(?:s|ed|ing|ion)?
      | verif(?:y|ies|ied|ying)
      | match(?:es|ed|ing)?
      | support(?:s|ed|ing)?
      | tracks?|tracked
      | follow(?:s|ed|ing)?
      | fit(?:s|ted)?\ (?:better|best|well|worse|poorly)
      | as\ expected | in\ line\ with | borne\ out | bears?\ out
      | (?:as|than|(?:is|are)\ what)\ (?:[\w-]+\ ){0,3}?predict(?:s|ed)
      | in\ the\ direction\ (?:[\w-]+\ ){0,3}?predict(?:s|ed)?
      | within\ (?:[\w-]+\ ){0,3}?(?:standard\ errors?|sampling\ error|the\ noise|error\ bars)
      | (?:bound|claim|law|inequality|identity|theorem|prediction|reading|result)s?
        \ (?:[\w-]+\ )?holds?
      | holds\ (?:on|exactly|at\ every|at\ both|at\ all|for\ every|for\ all)
      | bounds?\ (?:is|are|was|were|stays?|remains?)\ (?:[\w-]+\ )?(?:loose|tight)
      | (?:sympy|numpy|the\ page)\ (?:[\w-]+\ )?(?:checks|checked|shows)
      | checked\ (?:by|with)\ (?:sympy|numpy)
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)
# idioms made of a verdict word that state nothing: removed before VERDICT is matched
_NOT_A_VERDICT = re.compile(
    r"\b(?:(?:as|what|which|that)\ follows|the\ following|(?:to|we|you)\ follow|follows?\ from)\b",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class Allowed:
    """A paragraph the scan flags that states no result of this book's data or computation:
    ``chapter``, a fragment of its text (whitespace collapsed) and why it needs no guard."""

    chapter: str
    fragment: str
    reason: str


ALLOWED = (
    Allowed(
        "nqm.md",
        "So the criterion for agreement is stated before looking",
        "names the criterion before the data; the verdicts it gives are glued "
        "(nqm_engine_sgd_verdict, nqm_engine_mom_verdict, from EngineCheck.agrees)",
    ),
    Allowed(
        "adam.md",
        "sympy confirms that the two sides of the identity below agree for all values",
        "checked on the page: the next cell asserts sp.simplify(lhs - rhs) == 0 (it ends a "
        "proof directive, so with a period, not a colon)",
    ),
    Allowed(
        "adam.md",
        "the Cauchy–Schwarz inequality (used here, not checked by sympy)",
        "says what sympy does not check: no verdict",
    ),
    Allowed(
        "momentum.md",
        "follows the whole family of bounds that constant spans",
        "the chapter's plan ('follows' as in 'traces'): no verdict",
    ),
    Allowed(
        "momentum.md",
        "Sympy checks each; vectors enter only through identities",
        "announces the proof's five steps below, each checked on the page by an asserting cell",
    ),
    Allowed(
        "momentum.md",
        "Two are natural, and they disagree.",
        "theory: the two comparison rules, derived below; no data",
    ),
    Allowed(
        "momentum.md",
        "The direction agrees with the claim of {cite:t}`iiduka2021steps`",
        "the derived bound against the literature's claim; the family it supports is derived "
        "and checked by sympy below: no data",
    ),
    Allowed(
        "momentum.md",
        "This agrees with earlier work.",
        "a statement about the literature (kidambi2018, liu2020) on the derived bound, not "
        "about this book's data",
    ),
    Allowed(
        "momentum.md",
        "at small rates this family supports any factor above $1/(1-\\beta)$",
        "theory: what the family of bounds allows, derived and checked by sympy above; no data",
    ),
    Allowed(
        "nqm.md",
        "when $v$ tracks the curvature",
        "the model's premise (Adam's v following the curvature, as in the literature), not a "
        "result",
    ),
    Allowed(
        "optimal.md",
        "Otherwise the verdict is *not supported by these data*",
        "defines the label the computed verdicts use: no verdict",
    ),
    Allowed(
        "optimal.md",
        "as $L\\alpha \\to 0$ (where both bounds hold)",
        "theory: the regime where both bounds' conditions hold; no data",
    ),
    Allowed(
        "optimal.md",
        "Read with the evidence column: *not supported by these data* means",
        "explains the labels of the computed verdicts, in conditionals: no verdict",
    ),
    Allowed(
        "setting.md",
        "The runs in this book sample with replacement, matching the assumption.",
        "says how the book's code draws batches (a design choice), not a measured result",
    ),
    Allowed(
        "template.md",
        "So the reading that holds is the SFO one",
        "theory: the reading of b* that the template's proof supports, proved by sympy above; "
        "no data",
    ),
    Allowed(
        "tuned.md",
        "so measured steps can tell them apart: a constant-rate sweep should follow",
        "theory: the law each kind of sweep should follow; the data's verdict is glued below "
        "(tuned_published_verdict, tuned_digits_verdict)",
    ),
    Allowed(
        "tuned.md",
        "so it runs without a kernel and agrees with the numbers above",
        "about the explorer's code, printed from the same sympy expressions: "
        "tests/viz/test_explorers.py checks its JavaScript against the numeric bound",
    ),
)

_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(?:\{([\w:-]+)\})?")
# directives whose body is not prose: skipped whole, like a plain code fence
_NOT_PROSE = {"math", "code", "code-block", "code-cell", "eval-rst", "bibliography", "raw"}
_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]*)[^`]*`")  # group 1: the key
_ROLE = re.compile(r"\{[^}\s]+\}`[^`]*`")  # citations, references, equations, functions
_INLINE_CODE = re.compile(r"`[^`]*`")
_INLINE_MATH = re.compile(r"\$(?:[^$\\]|\\.)+\$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LIST_ITEM = re.compile(r"\n(?=\s*(?:[-*+]|\d+\.)\s)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass
class _Paragraph:
    """A block of a markdown cell: its ``lines`` as written (display math included), its
    ``prose`` lines (no display math), the ``guards`` of the ``% guard:`` comments right above
    it (or above the directive whose caption it begins), and whether it ends its cell."""

    cell: int
    guards: tuple[str, ...]
    lines: list[str]
    prose: list[str]
    last: bool = False

    @property
    def text(self) -> str:
        return _flat(" ".join(self.lines))

    def sentences(self) -> list[str]:
        """The prose with inline math, code, roles (glue roles as ``{glue}``) and links'
        targets removed, one sentence (or list item) at a time."""
        words = _GLUE_ROLE.sub(r" {glue=\1} ", "\n".join(self.prose))
        for pattern in (_ROLE, _INLINE_CODE, _INLINE_MATH):
            words = pattern.sub(" ", words)
        words = _LINK.sub(r"\1", words)
        items = _LIST_ITEM.split(words)
        return [_flat(s) for item in items for s in _SENTENCE_END.split(_flat(item)) if s]


def _paragraphs(notebook) -> list[_Paragraph]:
    """The blocks of a notebook's markdown cells. Display math is part of a block but not its
    prose; code fences and non-prose directives (math, code, eval-rst...), directives' option
    lines, MyST comments and targets are in no block; a heading is a block of its own; the body
    of a directive such as a figure, a theorem or a proof is prose."""
    return [
        paragraph
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
        for paragraph in _blocks(index, cell.source)
    ]


def _blocks(index: int, source: str) -> list[_Paragraph]:
    """The blocks of one markdown cell, the ``index``-th of its notebook."""
    blocks: list[_Paragraph] = []
    current: _Paragraph | None = None
    pending: list[str] = []  # guards waiting for the next block
    directives: list[str] = []  # the fences of the prose directives open
    skip_until: str | None = None  # the fence that ends a fence that is not prose
    options = yaml = math = False

    def close() -> None:
        nonlocal current
        if current is not None:
            blocks.append(current)
        current = None

    for line in source.splitlines():
        stripped = line.strip()
        if skip_until is not None:
            if stripped.startswith(skip_until) and not stripped.strip(skip_until[0]):
                skip_until = None
            continue
        if yaml:  # a directive's options as a YAML block
            yaml = stripped != "---"
            continue
        fence = _FENCE.match(stripped)
        if fence and not math:
            close()
            marks = fence.group(1)
            if directives and stripped == marks and len(marks) >= len(directives[-1]):
                directives.pop()
                pending = []
            elif fence.group(2) and fence.group(2) not in _NOT_PROSE:
                directives.append(marks)  # its guards go on to its caption
                options = True
            else:
                skip_until = marks
                pending = []
            continue
        if options:
            if stripped.startswith(":"):
                continue
            if stripped == "---":
                yaml = True
                continue
            options = False
        if not stripped and not math:
            close()
            continue
        if not math and stripped.startswith("%"):
            close()
            guard = _GUARD_COMMENT.match(stripped)
            if guard:
                pending.append(guard.group(1))
            continue
        if not math and re.fullmatch(r"\(.+\)=", stripped):  # a target
            close()
            pending = []
            continue
        if not math and stripped.startswith("#"):  # a heading
            close()
            blocks.append(_Paragraph(index, tuple(pending), [line], [line.lstrip("# ")]))
            pending = []
            continue
        if current is None:
            current = _Paragraph(index, tuple(pending), [], [])
            pending = []
        current.lines.append(line)
        if math:
            math = not stripped.startswith("$$")
        elif stripped.startswith("$$"):
            math = "$$" not in stripped[2:]
        else:
            current.prose.append(line)
    close()
    if blocks:
        blocks[-1].last = True
    return blocks


def _generated(key: str) -> bool:
    """Whether glue key ``key`` is one a listed claim glues from the function computing it."""
    return any(
        re.fullmatch(re.sub(r"\\\{\w+\\\}", r"\\w+", re.escape(pattern)), key)
        for claim in CLAIMS
        for pattern, _ in claim.glued
    )


def _verdicts(paragraph: _Paragraph) -> list[str]:
    """The verdict words of a paragraph that no generated glue role (a key of a listed claim's
    ``glued``) in the same sentence accounts for: a hand-written verdict beside a glued
    number is still hand-written."""
    return [
        match.group(0)
        for sentence in paragraph.sentences()
        if not any(_generated(key) for key in re.findall(r"\{glue=(\w*)\}", sentence))
        for match in VERDICT.finditer(_NOT_A_VERDICT.sub(" ", sentence))
    ]


def _asserts_on_data(source: str) -> bool:
    """Whether a code cell fails when what it checks is false: it has an ``assert`` that tests
    computed names, or calls a function named ``assert...`` (``np.testing``'s, say)."""
    tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith("%")))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and any(
            isinstance(n, ast.Name) for n in ast.walk(node.test)
        ):
            return True
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.startswith("assert"):
                return True
    return False


def unaccounted_verdicts(notebook) -> list[tuple[str, list[str]]]:
    """``(paragraph, its verdict words)`` for each block of a notebook that states a verdict
    neither **generated** (a glue role in the verdict's sentence), nor **guarded** (a
    ``% guard: <id>`` comment above it and an ``assert ..., "guard <id>: ..."`` in a code cell),
    nor **checked on the page** (it ends its markdown cell with a colon and the next cell is a
    code cell that asserts)."""
    code = "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    asserted = _guard_asserts(code)
    flagged = []
    for paragraph in _paragraphs(notebook):
        words = _verdicts(paragraph)
        if not words or any(guard in asserted for guard in paragraph.guards):
            continue
        following = notebook.cells[paragraph.cell + 1 : paragraph.cell + 2]
        if (
            paragraph.last
            and paragraph.text.endswith(":")
            and following
            and following[0].cell_type == "code"
            and _asserts_on_data(following[0].source)
        ):
            continue
        flagged.append((paragraph.text, words))
    return flagged


def _not_allowed(chapter: str, notebook, allowed=ALLOWED) -> list[tuple[str, list[str]]]:
    fragments = [_flat(a.fragment) for a in allowed if a.chapter == chapter]
    return [
        (text, words)
        for text, words in unaccounted_verdicts(notebook)
        if not any(fragment in text for fragment in fragments)
    ]


@functools.cache
def _notebook(name: str):
    return jupytext.read(CHAPTERS / name)


@pytest.mark.parametrize("chapter", sorted(path.name for path in CHAPTERS.glob("*.md")))
def test_no_paragraph_states_a_verdict_that_is_not_glued_guarded_or_checked(chapter):
    flagged = _not_allowed(chapter, _notebook(chapter))
    assert not flagged, "\n\n".join(
        f"{chapter}: {words} in a paragraph neither glued, guarded nor checked on the page "
        f"(guard it, or list it in ALLOWED with the reason it states no result):\n{text}"
        for text, words in flagged
    )


@pytest.mark.parametrize("entry", ALLOWED, ids=lambda a: f"{a.chapter}:{a.fragment[:40]}")
def test_an_allowed_paragraph_is_in_its_chapter_and_still_flagged(entry):
    flagged = [text for text, _ in unaccounted_verdicts(_notebook(entry.chapter))]
    prose = _flat(_chapter(entry.chapter)[0])
    assert _flat(entry.fragment) in prose, f"{entry.chapter} no longer has {entry.fragment!r}"
    # an entry for a paragraph the scan no longer flags (guarded since, or reworded) is stale
    assert any(_flat(entry.fragment) in text for text in flagged), (
        f"the scan no longer flags {entry.fragment!r}: remove it from ALLOWED"
    )


_CODE_CELL = "```{{code-cell}} ipython3\nmeasured, bound = 1.0, 2.0\n{line}\n```\n"
_GUARD_ASSERT = 'assert measured < bound, "guard below: the curve stays below the bound"'


def _synthetic(markdown: str, code: str = "measured / bound") -> object:
    return jupytext.reads(markdown + "\n\n" + _CODE_CELL.format(line=code), fmt="md:myst")


def test_the_scan_flags_an_unguarded_verdict_and_accepts_it_guarded():
    verdict = "At every batch size the measured curve agrees with the bound."
    assert unaccounted_verdicts(_synthetic(verdict))
    guarded = f"% guard: below\n{verdict}"
    assert not unaccounted_verdicts(_synthetic(guarded, _GUARD_ASSERT))
    # a guard comment without its assertion, or with another guard's, guards nothing
    assert unaccounted_verdicts(_synthetic(guarded))
    assert unaccounted_verdicts(_synthetic(guarded, _GUARD_ASSERT.replace("below", "other")))
    # a guarded figure: the guard above the directive covers its caption
    figure = f"% guard: below\n```{{glue:figure}} fig\n:name: fig\n\n{verdict}\n```"
    assert not unaccounted_verdicts(_synthetic(figure, _GUARD_ASSERT))
    assert unaccounted_verdicts(_synthetic(figure.replace("% guard: below\n", "")))


def test_a_verdict_added_to_a_real_chapter_is_caught():
    text = (CHAPTERS / "sgd.md").read_text()
    assert not _not_allowed("sgd.md", jupytext.reads(text, fmt="md:myst"))
    heading = "\n## The bound checked\n"
    assert heading in text
    added = text.replace(heading, "\nThe measured curve agrees with the bound.\n" + heading)
    flagged = _not_allowed("sgd.md", jupytext.reads(added, fmt="md:myst"))
    assert [words for _, words in flagged] == [["agrees"]]


def test_a_verdict_checked_on_the_page_needs_a_cell_that_asserts():
    checked = "Sympy confirms that the two sides agree:"
    assert not unaccounted_verdicts(_synthetic(checked, "assert measured < bound"))
    assert not unaccounted_verdicts(
        _synthetic(checked, "np.testing.assert_allclose(measured, bound)")
    )
    assert unaccounted_verdicts(_synthetic(checked))  # a cell that only displays
    assert unaccounted_verdicts(_synthetic(checked, "assert True"))  # tests no data
    # the colon and the place matter: a period, or text between the paragraph and the cell
    assert unaccounted_verdicts(_synthetic(checked[:-1] + ".", "assert measured < bound"))
    assert unaccounted_verdicts(_synthetic(checked + "\n\nThen:", "assert measured < bound"))


def test_a_glue_role_accounts_for_the_verdict_of_its_own_sentence_only():
    glued = "Which law the points follow, computed: {glue:md}`optimal_theory_check`."
    assert not unaccounted_verdicts(_synthetic(glued))
    assert unaccounted_verdicts(_synthetic(glued + " The tuned law fits better."))
    # a glued number is not a generated verdict: the words around it are hand-written
    assert unaccounted_verdicts(_synthetic("The measured b*, {glue:text}`x:.3g`, agrees with it."))


def test_the_scan_reads_no_verdict_in_math_code_citations_comments_or_options():
    quiet = [
        "The ratio is $\\text{agrees}(x)$ and `bound.agrees()` returns it.",
        "See {cite:t}`agrees2020` and {ref}`sgd-agrees`.",
        "% the measured curve agrees with the bound\nA sentence.",
        "$$\n\\text{the measured curve agrees with the bound}\n$$",
        "```{math}\n\\text{the measured curve agrees}\n```",
        "```python\nassert curve.agrees(bound)\n```",
        "```{figure} agrees.png\n:name: agrees-with-bound\n\nA picture.\n```",
        "The proof goes as follows, and the steps follow from (A1).",
    ]
    for markdown in quiet:
        assert not unaccounted_verdicts(_synthetic(markdown)), markdown


def test_an_allowed_paragraph_is_not_reported():
    literature = "As {cite:t}`smith2020` report, large batches agree with the linear scaling rule."
    notebook = _synthetic(literature)
    assert _not_allowed("mine.md", notebook, ())
    allowed = (Allowed("mine.md", "large batches agree with the linear", "the literature's"),)
    assert not _not_allowed("mine.md", notebook, allowed)
    assert _not_allowed("other.md", notebook, allowed)  # an entry holds for its chapter only
