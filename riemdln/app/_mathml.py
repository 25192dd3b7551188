"""Offline MathML for the report's inline mathematics (no network, no JavaScript).

The report writes its mathematics in plain Unicode with TeX-style scripts: ``ĝ^N``, ``σ_min``, ``A_N/N``,
``W_{p+1}ᵀW_{p+1}``, ``s^{−(N−1)/N}``. :func:`html_math` finds such words in the text of an HTML fragment
(outside ``<code>``, ``<pre>``, ``<script>`` and ``<style>``, never inside a tag) and replaces each by a
MathML ``<math>`` element: ``_x`` and ``^x`` become ``<msub>``/``<msup>`` (``<msubsup>`` when both follow one
base), a script being a braced group, a balanced parenthesis, or the letters and digits that follow. A word
whose script follows a run of two or more ASCII letters (``loss_tol``, ``menon_2x2``) is an identifier, not
mathematics, and is left alone; so is a word the converter cannot parse (an unbalanced brace).

>>> to_mathml("σ_min")
'<math><msub><mi>σ</mi><mi>min</mi></msub></math>'
>>> html_math("<p>rate of <code>loss_tol</code> and ĝ^N.</p>")
'<p>rate of <code>loss_tol</code> and <math><msup><mi>ĝ</mi><mi>N</mi></msup></math>.</p>'
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["html_math", "is_math_word", "to_mathml"]

_SKIP = ("code", "pre", "script", "style", "math")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>")
_TRAIL = ".,;:!?"
_OPEN = {"{": "}", "(": ")", "[": "]"}


class _ParseError(ValueError):
    pass


def _is_word_char(c: str) -> bool:
    # modifier letters and super/subscript digits (ᵀ, ², ₁) end a script: they are marks of their own
    return (c.isalnum() or c in "∞′*") and unicodedata.category(c) not in ("Lm", "No")


def is_math_word(word: str) -> bool:
    """Whether ``word`` (no spaces) has a sub- or superscript that is mathematics, not an identifier."""
    for k, c in enumerate(word):
        if c not in "_^" or k == 0 or k == len(word) - 1:
            continue
        j = k
        while j > 0 and word[j - 1].isascii() and word[j - 1].isalpha():
            j -= 1
        if k - j <= 1:  # a single letter, or a non-ASCII symbol, a digit or a bracket before the script
            return True
    return False


def _mi(text: str) -> str:
    tag = "mn" if re.fullmatch(r"[0-9.]+", text) else "mi"
    return f"<{tag}>{html.escape(text, quote=False)}</{tag}>"


def _parse(s: str, i: int, close: str | None) -> tuple[list[str], int]:
    """Nodes from ``s[i:]`` up to ``close`` (or the end); returns (nodes, index after ``close``)."""
    out: list[str] = []
    while i < len(s):
        c = s[i]
        if close is not None and c == close:
            return out, i + 1
        if c in "}":
            raise _ParseError(s)
        if c == "{":
            inner, i = _parse(s, i + 1, "}")
            base = "<mrow>" + "".join(inner) + "</mrow>"
        elif c.isdigit():
            j = i
            while j < len(s) and (s[j].isdigit() or (s[j] == "." and j + 1 < len(s) and s[j + 1].isdigit())):
                j += 1
            base, i = f"<mn>{s[i:j]}</mn>", j
        elif c.isascii() and c.isalpha() and i + 1 < len(s) and s[i + 1].isascii() and s[i + 1].isalpha():
            j = i  # a word (limit, log, tr): one upright identifier, its last letter the base of a script
            while j < len(s) and s[j].isascii() and s[j].isalpha():
                j += 1
            if j < len(s) and s[j] in "_^":
                j -= 1
            base, i = _mi(s[i:j]), j
        elif c.isalpha() or c in "∞′":
            base, i = _mi(c), i + 1
        elif c in "_^":
            raise _ParseError(s)
        else:
            base, i = f"<mo>{html.escape(c, quote=False)}</mo>", i + 1
        scripts: dict[str, str] = {}
        while i < len(s) and s[i] in "_^" and s[i] not in scripts and i + 1 < len(s):
            kind = s[i]
            scripts[kind], i = _script(s, i + 1)
        if "_" in scripts and "^" in scripts:
            out.append(f"<msubsup>{base}{scripts['_']}{scripts['^']}</msubsup>")
        elif "_" in scripts:
            out.append(f"<msub>{base}{scripts['_']}</msub>")
        elif "^" in scripts:
            out.append(f"<msup>{base}{scripts['^']}</msup>")
        else:
            out.append(base)
    if close is not None:
        raise _ParseError(s)
    return out, i


def _script(s: str, i: int) -> tuple[str, int]:
    c = s[i]
    if c == "{":
        inner, j = _parse(s, i + 1, "}")
        return "<mrow>" + "".join(inner) + "</mrow>", j
    if c in "([":
        inner, j = _parse(s, i + 1, _OPEN[c])
        return f"<mrow><mo>{c}</mo>" + "".join(inner) + f"<mo>{_OPEN[c]}</mo></mrow>", j
    j = i + (1 if c in "-−+" else 0)
    while j < len(s) and (_is_word_char(s[j]) or (s[j] == "." and j + 1 < len(s) and s[j + 1].isdigit())):
        j += 1
    if j > i + 1 and j < len(s) and s[j] in "_^":  # W_pW_p: the last letter is the next script's base
        j -= 1
    if j == i or (j == i + 1 and c in "-−+"):
        raise _ParseError(s)
    return _mi(s[i:j]), j


def to_mathml(text: str) -> str:
    """``text`` (Unicode with TeX-style scripts) as one inline MathML element.

    >>> to_mathml("W_{p+1}ᵀ")
    '<math><msub><mi>W</mi><mrow><mi>p</mi><mo>+</mo><mn>1</mn></mrow></msub><mi>ᵀ</mi></math>'
    """
    nodes, _ = _parse(text, 0, None)
    return "<math>" + "".join(nodes) + "</math>"


def _convert_word(word: str) -> str:
    """An HTML-escaped word of the text, with its mathematical core replaced by MathML (else unchanged)."""
    raw = html.unescape(word)
    core = raw.rstrip(_TRAIL)
    tail = raw[len(core) :]
    lead = ""
    # an opening parenthesis that the word does not close belongs to the sentence, not to the formula
    while core[:1] in "([" and core.count(core[0]) > core.count(_OPEN[core[0]]):
        lead, core = lead + core[0], core[1:]
    if core.endswith(")") and core.count(")") > core.count("("):
        tail, core = ")" + tail, core[:-1]
    if not is_math_word(core):
        return word
    try:
        math = to_mathml(core)
    except _ParseError:
        return word
    return html.escape(lead, quote=False) + math + html.escape(tail, quote=False)


def _convert_text(text: str) -> str:
    def one(m: re.Match) -> str:
        word = m.group(0)
        return _convert_word(word) if "_" in word or "^" in word else word

    return re.sub(r"[^\s<>]+", one, text)


def html_math(fragment: str) -> str:
    """``fragment`` with the mathematical words of its text as MathML (see the module's docstring)."""
    out: list[str] = []
    skip: list[str] = []
    pos = 0
    for m in _TAG.finditer(fragment):
        text = fragment[pos : m.start()]
        out.append(text if skip else _convert_text(text))
        out.append(m.group(0))
        name = m.group(2).lower()
        if name in _SKIP:
            if m.group(1):
                if skip and skip[-1] == name:
                    skip.pop()
            elif not m.group(0).endswith("/>"):
                skip.append(name)
        pos = m.end()
    tail = fragment[pos:]
    out.append(tail if skip else _convert_text(tail))
    return "".join(out)
