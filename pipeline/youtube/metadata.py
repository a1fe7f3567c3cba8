"""What a video is published with: titles, descriptions and tags cleaned to YouTube's rules.

Writers (the local one, an LLM) and trending titles hand us text that YouTube refuses or shows
badly: ``<``/``>`` (refused in titles, descriptions and tags), markdown and links an LLM likes
to add, titles over 100 characters, descriptions over 5,000 bytes, tag lists over 500
characters. :func:`clean_body` is the one place that fixes all of it, applied to every
``videos.insert`` body (``stages.youtube_body``), so YouTube and the local outbox get the same.

Lengths are measured the way YouTube limits them (Data API v3, ``videos`` resource):
``snippet.title`` at most 100 characters, ``snippet.description`` at most 5,000 bytes of
UTF-8, ``snippet.tags`` at most 500 characters in all, counting the commas between tags and
two quotation marks for a tag that contains a space. Characters are counted in UTF-16 code
units (an emoji outside the Basic Multilingual Plane counts 2), which is never less than a
count of code points, so the limit holds however YouTube counts. Text is cut between
grapheme clusters, never inside an emoji sequence or before a combining accent.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable

import regex

TITLE_MAX = 100  # characters
DESCRIPTION_MAX_BYTES = 5000  # bytes of UTF-8
TAGS_MAX = 500  # characters, commas and quotation marks included
FALLBACK_TITLE = "Untitled video"

# Invisible characters that only hide or reorder text: zero-width space, word joiner, BOM,
# soft hyphen, bidi embeddings/overrides/isolates. ZWJ/ZWNJ and variation selectors stay:
# emoji sequences and some scripts need them.
_INVISIBLE = frozenset([0x200B, 0x2060, 0xFEFF, 0x00AD, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])

_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_FENCE = re.compile(r"^ {0,3}(?:```|~~~).*$", re.M)
_CODE = re.compile(r"(`+)(.+?)\1")
_DEST = r"\(\s*<?([^()\s<>]*(?:\([^()\s]*\)[^()\s<>]*)*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)"
_IMAGE = re.compile(r"!\[[^\]]*\](?:" + _DEST + r"|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]*)\]" + _DEST)
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$", re.M)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^<>\s]+|www\.[^<>\s]+)>", re.I)
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>]+|\bwww\.[^\s<>]+", re.I)
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
_QUOTE = re.compile(r"^ {0,3}>[ \t]?", re.M)
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.M)
_BULLET = re.compile(r"^([ \t]*)[*+][ \t]+", re.M)
_STRONG = re.compile(r"(\*\*|__)(?=\S)([^\n]+?)(?<=\S)\1")
_STRIKE = re.compile(r"~~(?=\S)([^\n]+?)(?<=\S)~~")
_EM_STAR = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^\n]+?)(?<=[^\s*])\*(?![\w*])")
_EM_UNDER = re.compile(r"(?<![\w\\])_(?=[^\s_])([^\n]+?)(?<=[^\s_])_(?!\w)")
_MARKER_RUNS = re.compile(r"\*{2,}|_{2,}|~{2,}|`+")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_EDGES = "-–—|:·•,;/ "
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


def youtube_length(text: str) -> int:
    """Characters as counted against YouTube's limits: UTF-16 code units (never below code points)."""
    return len(text.encode("utf-16-le")) // 2


def tags_length(tags: Iterable[str]) -> int:
    """The length YouTube checks against 500: commas between tags, quotes around a tag with a space."""
    tags = list(tags)
    return sum(youtube_length(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def clean_title(text: object, fallback: object = "") -> str:
    """A title YouTube accepts: plain text (no markdown, links or URLs), no < >, 1-100 characters.

    An empty result falls back to ``fallback`` (the job's topic), cleaned the same way, and then
    to a fixed placeholder, because YouTube refuses an empty title.
    """
    for candidate in (text, fallback):
        title = _cut(_one_line(candidate), youtube_length, TITLE_MAX, (" ",), 0.6).strip(_EDGES)
        if title:
            return title
    return FALLBACK_TITLE


def clean_description(text: object) -> str:
    """A description YouTube accepts: markdown turned to plain text (URLs kept), no < >, <= 5,000 bytes."""
    text = _visible(text, keep_newlines=True)
    text = _unmark(text, keep_urls=True)
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return _cut(text, _utf8_bytes, DESCRIPTION_MAX_BYTES, ("\n", " "), 0.75).rstrip()


def clean_tags(tags: Iterable[object] | None) -> list[str]:
    """Tags YouTube accepts: each plain, no < > or quotes, whitespace collapsed; no empty ones;
    duplicates (ignoring case) dropped, first kept; as many as fit 500 characters, in order.
    A comma separates tags for YouTube, so "a, b" becomes the two tags it was meant to be."""
    out: list[str] = []
    seen: set[str] = set()
    for part in (p for raw in tags or [] for p in _visible(raw, keep_newlines=False).split(",")):
        tag = " ".join(_one_line(part).replace('"', " ").split()).strip(_EDGES)
        key = tag.casefold()
        if not tag or key in seen or tags_length([*out, tag]) > TAGS_MAX:
            continue  # a long tag that does not fit must not keep shorter ones after it out
        seen.add(key)
        out.append(tag)
    return out


def clean_snippet(snippet: dict, fallback_title: object = "") -> dict:
    """``snippet`` with its title, description and tags cleaned; other fields untouched."""
    out = dict(snippet)
    out["title"] = clean_title(snippet.get("title", ""), fallback_title)
    out["description"] = clean_description(snippet.get("description", ""))
    out["tags"] = clean_tags(snippet.get("tags") or [])
    return out


def clean_body(body: dict, fallback_title: object = "") -> dict:
    """A ``videos.insert`` body whose snippet YouTube will accept (see the module docstring)."""
    out = dict(body)
    out["snippet"] = clean_snippet(body.get("snippet") or {}, fallback_title)
    return out


# -- steps -------------------------------------------------------------------------------------

def _utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _one_line(text: object) -> str:
    """Title-style text: plain, on one line, URLs removed."""
    text = _unmark(_visible(text, keep_newlines=True), keep_urls=False)
    return _EMPTY_BRACKETS.sub("", " ".join(text.split())).strip()


def _visible(text: object, keep_newlines: bool) -> str:
    """Entities decoded, NFC, line ends unified; control and invisible formatting characters gone."""
    text = unicodedata.normalize("NFC", html.unescape("" if text is None else str(text)))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in "\t\n\v\f":
            out.append(" ")
        elif not _hidden(ch):
            out.append(ch)
    return "".join(out)


def _hidden(ch: str) -> bool:
    cp = ord(ch)
    noncharacter = (cp & 0xFFFE) == 0xFFFE or 0xFDD0 <= cp <= 0xFDEF
    return cp in _INVISIBLE or noncharacter or unicodedata.category(ch) in ("Cc", "Cs")


def _unmark(text: str, keep_urls: bool) -> str:
    """Markdown and HTML to plain text. Links keep their text (and, where URLs are kept, the URL)."""
    urls: list[str] = []

    def keep(url: str) -> str:  # URLs are parked so emphasis rules cannot eat their _ and *
        urls.append(url.replace("<", "").replace(">", ""))
        return f"\x00{len(urls) - 1}\x00"

    def link(m: re.Match) -> str:
        label, url = m.group(1).strip(), m.group(2)
        if not keep_urls or not _URL.fullmatch(url or ""):
            return label  # a title loses the URL; a javascript: or relative link is not worth keeping
        return keep(url) if not label or label == url else f"{label}: {keep(url)}"

    text = _COMMENT.sub("", _SCRIPT.sub("", text))
    text = _FENCE.sub("", text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(link, text)
    text = _REF_LINK.sub(r"\1", text)
    text = _REF_DEF.sub((lambda m: f"{m.group(1)}: {keep(m.group(2))}") if keep_urls else "", text)
    text = _AUTOLINK.sub((lambda m: keep(m.group(1))) if keep_urls else "", text)
    text = _URL.sub((lambda m: keep(m.group(0))) if keep_urls else "", text)
    text = _CODE.sub(lambda m: m.group(2).strip(), text)
    text = _TAG.sub("", text)
    text = _QUOTE.sub("", _HEADING.sub(r"\1", _RULE.sub("", text)))
    text = _BULLET.sub(r"\1• ", text)
    for pattern in (_STRONG, _STRIKE):
        text = pattern.sub(lambda m: m.group(m.lastindex), text)
    text = _EM_UNDER.sub(r"\1", _EM_STAR.sub(r"\1", text))
    text = _MARKER_RUNS.sub("", text).replace("<", "").replace(">", "")
    return _PLACEHOLDER.sub(lambda m: urls[int(m.group(1))], text)


def _cut(text: str, size: Callable[[str], int], limit: int, breaks: tuple[str, ...], keep_at_least: float) -> str:
    """The longest run of whole graphemes within ``limit``; ended at a break (line, then word)
    when one falls in the last part of it (after ``keep_at_least`` of the kept text)."""
    if size(text) <= limit:
        return text
    kept, used = [], 0
    for grapheme in regex.findall(r"\X", text):
        used += size(grapheme)
        if used > limit:
            break
        kept.append(grapheme)
    prefix = "".join(kept)
    for brk in breaks:
        at = prefix.rfind(brk)
        if at >= keep_at_least * len(prefix):
            return prefix[:at].rstrip()
    return prefix.rstrip()
