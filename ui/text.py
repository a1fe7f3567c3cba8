"""Outside text (trending titles, topics, scripts, channel names, error messages) shown as text.

Streamlit renders markdown in st.markdown, captions, headers, alerts, toasts, progress text,
metric labels and values, expander and tab labels, button and radio labels. Text we did not
write must not become a remote image, a link, a coloured :red[directive], a :material/ icon or
$LaTeX$ there. :func:`md` makes it literal:

- every ASCII punctuation character is backslash-escaped (CommonMark lets any of them be), so
  no emphasis, link, image, HTML, heading, list, table, directive or math can start; the one
  exception is a colon before a space, which starts nothing and reads better bare ("line 3: ...");
- an invisible WORD JOINER (U+2060) is put where Streamlit's frontend rewrites text *after*
  parsing, which escapes cannot reach: GFM autolink literals (``https://``, ``www.``, e-mail
  addresses), ``:shortcode:`` emoji, ``:streamlit:`` and ``:material_x:`` icons, and the
  typographic arrows (``->`` becomes →).

Plain displays (st.dataframe, st.text, st.code, st.json, selectbox options) need none of this.
"""

from __future__ import annotations

import re
import string

WORD_JOINER = "\u2060"
_PUNCTUATION = frozenset(string.punctuation)
# Where a frontend text rewrite would match: each pattern matches the one character after which
# a word joiner breaks it.
_REWRITES = (
    re.compile(r":(?=//)"),  # http:// https:// (GFM autolink literals)
    re.compile(r"(?<=ww)w(?=\.)", re.I),  # www.example.com
    re.compile(r"@(?=[-\w])"),  # user@example.com
    re.compile(r":(?=[A-Za-z0-9_+-]+:)"),  # :smile: :streamlit: :material_home:
    re.compile(r"[<>~-](?=[<>=-])"),  # -> <- <-> -- >= <= ~=
)


def md(text: object, multiline: bool = False) -> str:
    """``text`` as markdown that renders to exactly that text (give it ``None`` for "").

    One line by default: runs of whitespace, newlines included, become one space, so the text
    cannot open a new block. With ``multiline``, line breaks stay (as hard breaks) and blank
    lines separate paragraphs.
    """
    raw = "" if text is None else str(text)
    if not multiline:
        return _escape(" ".join(raw.split()))
    paragraphs = re.split(r"\n[ \t]*\n", raw.replace("\r\n", "\n").replace("\r", "\n").strip())
    return "\n\n".join("\\\n".join(_escape(" ".join(line.split())) for line in p.split("\n") if line.strip())
                       for p in paragraphs if p.strip())


def _escape(line: str) -> str:
    joins = {m.start() for rx in _REWRITES for m in rx.finditer(line)}
    out = []
    for i, ch in enumerate(line):
        if ch in _PUNCTUATION and not (ch == ":" and i + 1 < len(line) and line[i + 1].isspace()):
            out.append("\\")
        out.append(ch)
        if i in joins:
            out.append(WORD_JOINER)
    return "".join(out)
