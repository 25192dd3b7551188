"""The report's summary (typed claims, legacy fallback, solver health) and report.html (MathML, verdict words)."""

from __future__ import annotations

import re
import shutil
import subprocess
import types

import pytest

from riemdln.app import report
from riemdln.app._mathml import html_math, is_math_word, to_mathml
from riemdln.studies import Claim, study_claims

# ---------------------------------------------------------------------------------------------------- summary


def _fake_study(monkeypatch, **attrs):
    mod = types.SimpleNamespace(NAME="fake", TITLE="Fake study", **attrs)
    monkeypatch.setattr("riemdln.studies.study", lambda name: mod)
    monkeypatch.setattr(report, "study", lambda name: mod)
    return mod


def test_claims_are_preferred_and_legacy_rows_still_work(monkeypatch):
    claim = Claim("x > 0", "observed", "x = 1", "x > 0", "supported", n=3, reference="docs/theory.md §2")
    _fake_study(monkeypatch, claims=lambda r: [claim], summary=lambda r: [{"holds": "no"}])
    (row,) = study_claims("fake", {})
    assert row == {
        "study": "fake",
        "claim": "x > 0",
        "kind": "observed",
        "measured": "x = 1",
        "expected": "x > 0",
        "verdict": "supported",
        "n": 3,
        "reference": "docs/theory.md §2",
    }
    legacy = [
        {"claim": "a", "measured": "1", "expected": "2", "holds": "yes"},
        {"claim": "b", "measured": "1", "expected": "2", "holds": "no"},
        {"claim": "c", "measured": "1", "expected": "2", "holds": "open"},
    ]
    _fake_study(monkeypatch, summary=lambda r: legacy)
    rows = study_claims("fake", {})
    assert [r["verdict"] for r in rows] == ["supported", "contradicted", "cannot tell"]
    assert all(set(r) >= {"study", "claim", "kind", "measured", "expected", "verdict", "n"} for r in rows)
    table = report.summary_table(["fake"], {"fake": {}})
    assert table.splitlines()[0].split("|")[1:-1] == [
        " study ",
        " claim ",
        " kind ",
        " measured ",
        " expected (theory / literature) ",
        " verdict ",
    ]
    assert "| cannot tell |" in table and "✅" not in table


def test_claim_refuses_unknown_kinds_and_verdicts():
    with pytest.raises(ValueError, match="kind"):
        Claim("x", "guess", "1", "1", "supported")
    with pytest.raises(ValueError, match="verdict"):
        Claim("x", "observed", "1", "1", "yes", n=1)
    with pytest.raises(ValueError, match="needs n"):
        Claim("x", "observed", "1", "1", "supported")


def test_solver_health_counts_each_run_once(monkeypatch):
    def rec(status, reached):
        return {"status": status, "reached_target": reached}

    recs = [rec("EVENT", True), rec("FINISHED", False), rec("INACCURATE", False), rec("FAILED", False)]
    recs += [rec("DIVERGED", False), rec("FINISHED", True)]
    assert report.health_counts(recs) == {
        "reached target": 2,
        "stopped short": 1,
        "inaccurate": 1,
        "failed": 1,
        "diverged": 1,
    }
    _fake_study(monkeypatch, RUN_KEYS=("runs",), RECORDS="operator evaluations")
    text = report.health_table(["fake"], {"fake": {"runs": recs}})
    assert "fake: 6 operator evaluations (no solver)" in text and "| fake |" not in text


# ------------------------------------------------------------------------------------------------------ MathML


def test_mathml_words_and_identifiers():
    assert is_math_word("ĝ^N") and is_math_word("σ_min/σ_max") and is_math_word("W_{p+1}ᵀW_{p+1}")
    assert not is_math_word("loss_tol") and not is_math_word("menon_2x2") and not is_math_word("1e-14")
    assert to_mathml("A_∞") == "<math><msub><mi>A</mi><mi>∞</mi></msub></math>"
    assert to_mathml("s^{−(N−1)/N}").startswith("<math><msup><mi>s</mi><mrow><mo>−</mo><mo>(</mo>")
    # a word in <code> stays code; an unbalanced brace stays text
    assert html_math("<p><code>x_1</code> y_{1</p>") == "<p><code>x_1</code> y_{1</p>"


def _report_md() -> str:
    row = "| [1. fake](#1-fake) | ĝ^N is positive | 1 | observed (n = 3) | x (docs/theory.md §2) | supported |"
    return "\n".join(
        [
            "# riemdln reproduce",
            "",
            "| study | claim | measured | kind | expected | verdict |",
            "|---|---|---|---|---|---|",
            row,
            "| [1. fake](#1-fake) | ‖W_N⋯W_1(t) − X(t)‖ small | 2 | theorem | y | contradicted |",
            "",
            "## 1. Fake: A_N/N → A_∞",
            "",
            "The law σ_min ∝ ε^p, see `loss_tol`.",
        ]
    )


def test_report_html_has_mathml_verdict_words_and_theory_links(tmp_path):
    md = report.link_theory(_report_md(), tmp_path)
    if report._theory_path() is not None:
        link = re.search(r"\[docs/theory\.md §2\]\(([^)]+)\)", md)
        assert link and link.group(1).endswith("#2-the-operator-a_n-and-the-metric-gn"), md
        assert (tmp_path / link.group(1).split("#")[0]).resolve() == report._theory_path()
    html = report.render_html(md, tmp_path)
    assert html is not None
    assert '<span class="verdict v-supported">supported</span>' in html
    assert '<span class="verdict v-contradicted">contradicted</span>' in html
    assert html.count("<math>") >= 5 and "ĝ^N" not in html and "σ_min" not in html and "ε^p" not in html
    assert '<h2 id="1-fake-a_nn--a_">' in html  # the anchor from the heading's text, before the MathML
    assert "<code>loss_tol</code>" in html and "http" not in html  # nothing to fetch


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="needs a headless Chromium")
def test_report_html_renders_in_headless_chromium(tmp_path):
    """A real browser with no network lays out the MathML (non-zero boxes) and shows the verdicts as text."""
    html = report.render_html(report.link_theory(_report_md(), tmp_path), tmp_path)
    assert html is not None
    probe = (
        "<script>window.onload = () => { const m = [...document.querySelectorAll('math')];"
        "document.body.dataset.math = m.length; document.body.dataset.laidout = m.filter(e => "
        "e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().height > 0).length;"
        "document.body.dataset.mfrac = document.querySelectorAll('msub, msup').length;"
        "document.body.dataset.colour = getComputedStyle(document.querySelector('.v-supported')).color; };"
        "</script></body>"
    )
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", probe), encoding="utf-8")
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    args += ["--disable-background-networking", "--virtual-time-budget=3000"]
    dom = subprocess.run(
        [*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    n_math = int(re.search(r'data-math="(\d+)"', dom).group(1))
    laid_out = int(re.search(r'data-laidout="(\d+)"', dom).group(1))
    assert n_math >= 5 and laid_out == n_math, dom[-2000:]
    assert 'data-colour="rgb(26, 127, 55)"' in dom  # the supported verdict in green
    assert "\\(" not in dom and "ĝ^N" not in dom
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*args, f"--screenshot={shot}", "--window-size=900,700", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 5000
