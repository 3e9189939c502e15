"""Every sentence of the book that states a measured result, and what guards it.

A chapter may state a result only in one of two ways (issue 15):

- **generated**: the words come from the data, glued (``{glue:md}`key``` or ``{glue:text}`key```)
  from a library function that computes them from the runs, so they change when the runs do;
- **guarded**: the sentence is written by hand, preceded by a MyST comment ``% guard: <id>``,
  and a code cell of the same chapter asserts what it says, with the message
  ``"guard <id>: ..."``; the build executes every chapter, so the book fails to build when the
  data stop supporting the sentence.

``CLAIMS`` lists every such sentence with its guard. The tests check that each sentence is in
its chapter under its guard, that each generated one is glued from the function named, that
each guarded one has a real assertion, and that no guard in a chapter is missing here.
"""

from __future__ import annotations

import ast
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
        "optimal.md",
        "The measured ratio of $\\bstar$ (a ratio of two point estimates) is "
        "{glue:md}`optimal_band_where`",
        glued=(("optimal_band_where", "critical_ratio"),),
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
