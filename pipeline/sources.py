"""The operator's material for a script: pasted text, files and web pages, loaded as plain text.

A :class:`SourceDoc` is one source with an id ("S1", "S2", ...) that scripts cite per sentence.
Its ``text`` has one paragraph or heading per line (headings are short lines without end
punctuation, kept as section hints); every loader produces that shape, so the writer and the
quality checks read all sources alike.

Limits (every input has one): at most :data:`MAX_SOURCES` sources, each at most
:data:`MAX_SOURCE_CHARS` characters of extracted text; files at most :data:`MAX_FILE_BYTES`;
URLs only over http(s), fetched with a timeout and at most :data:`MAX_URL_BYTES` read. Each
failure is a :class:`SourceError` subclass whose message says what to fix.

The module also holds what the writer and the quality gate share about source text: the candidate
sentences a source offers (:func:`candidates`, junk left out and light trims made) and fuzzy
containment (:class:`TextIndex`), which is how a cited sentence is checked against its source.
"""

from __future__ import annotations

import html as html_lib
import io
import ipaddress
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.providers.base import BriefError
from pipeline.script import shorten, split_sentences, words

MAX_SOURCES = 10
MAX_SOURCE_CHARS = 200_000  # extracted text per source: a long article or a short book chapter
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_URL_BYTES = 10 * 1024 * 1024  # read from one URL, whatever its Content-Length says
URL_TIMEOUT_S = 20.0
MIN_SOURCE_WORDS = 8  # under this a "source" has nothing to say (a scanned PDF, an empty page)
FILE_KINDS = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
USER_AGENT = "YTEmpire-workbench/1 (+httpx; source fetch)"


class SourceError(BriefError):
    """A source could not be used; the message says which one and what to fix."""


class SourceLimitError(SourceError):
    """Too many sources, or one too large."""


class UnsupportedSource(SourceError):
    """A kind of file or address the loaders do not read."""


class SourceFetchError(SourceError):
    """A URL could not be fetched (offline, refused, timed out, an HTTP error)."""


class SourceTextError(SourceError):
    """The source was read but holds no usable text (a scanned PDF, an empty page, bad encoding)."""


@dataclass
class SourceDoc:
    id: str  # "S1", "S2", ... in the order given: what scripts cite
    title: str
    kind: str  # "text" (pasted), "file" or "url"
    location: str  # the file's path or the URL; '' for pasted text
    text: str  # one paragraph or heading per line

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SourceDoc:
        return cls(**{k: data.get(k, "") for k in ("id", "title", "kind", "location", "text")})

    @property
    def label(self) -> str:
        """How the description names it: the URL, the file's name, or 'pasted text'."""
        if self.kind == "url":
            return self.location
        if self.kind == "file":
            return Path(self.location).name
        return "pasted text"

    def reference(self) -> dict:
        """The entry a script's ``references`` keeps (everything but the text)."""
        return {"id": self.id, "title": self.title, "kind": self.kind, "location": self.location}


# -- loading -------------------------------------------------------------------------------------

def load_sources(specs: list[str], pasted: str | None = None, *, offline: bool = False,
                 timeout_s: float = URL_TIMEOUT_S, allow_private: bool = False) -> list[SourceDoc]:
    """Load the pasted text (first, as S1) and each spec (a file path or an http(s) URL), in order.

    ``offline``: URLs are refused with a SourceFetchError naming them instead of being fetched.
    ``allow_private``: URLs may reach loopback, private and link-local addresses (the machine itself, the
    office network, a cloud's metadata service); refused by default, so a shared workbench cannot be made
    to read what only it can reach. Identical specs are loaded once; empty ones are skipped.
    """
    cleaned = list(dict.fromkeys(s.strip() for s in specs if s and s.strip()))
    has_pasted = bool(pasted and pasted.strip())
    count = len(cleaned) + has_pasted
    if count > MAX_SOURCES:
        raise SourceLimitError(f"{count} sources were given; the limit is {MAX_SOURCES}. Keep the ones this video "
                               "needs most, or merge short ones into one pasted text.")
    docs: list[SourceDoc] = []
    if has_pasted:
        docs.append(from_text(pasted or "", f"S{len(docs) + 1}"))
    for spec in cleaned:
        docs.append(load_source(spec, f"S{len(docs) + 1}", offline=offline, timeout_s=timeout_s,
                                allow_private=allow_private))
    return docs


def load_source(spec: str, source_id: str = "S1", *, offline: bool = False,
                timeout_s: float = URL_TIMEOUT_S, allow_private: bool = False) -> SourceDoc:
    """One source from a path or a URL."""
    spec = spec.strip()
    scheme = urlsplit(spec).scheme.lower() if "://" in spec else ""
    if scheme in ("http", "https"):
        return from_url(spec, source_id, offline=offline, timeout_s=timeout_s, allow_private=allow_private)
    if scheme:
        raise UnsupportedSource(f"{spec}: only http:// and https:// addresses are fetched. Download the file "
                                "and give its path instead.")
    return from_file(Path(spec).expanduser(), source_id)


def from_text(text: str, source_id: str = "S1", title: str = "") -> SourceDoc:
    """Pasted text (markdown marks are stripped; plain prose passes through unchanged)."""
    if len(text) > MAX_SOURCE_CHARS:
        raise SourceLimitError(f"The pasted text is {len(text):,} characters; the limit is {MAX_SOURCE_CHARS:,}. "
                               "Paste the part this video needs, or split it across videos.")
    body = markdown_to_text(text)
    first = next((line for line in body.splitlines() if line.strip()), "")
    return _checked(SourceDoc(source_id, title or shorten(first, 60) or "Pasted text", "text", "", body), "The pasted text")


def from_file(path: Path, source_id: str = "S1") -> SourceDoc:
    """A .txt, .md, .html/.htm or .pdf file."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file. Give the path of a {', '.join(FILE_KINDS)} file, or an http(s) URL.")
    if not path.is_file():
        raise SourceError(f"{path} is not a file: give one file per source.")
    suffix = path.suffix.lower()
    if suffix not in FILE_KINDS:
        raise UnsupportedSource(f"{path.name}: files of type '{suffix or '(none)'}' are not read. Use "
                                f"{', '.join(FILE_KINDS)}, or paste the text.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise SourceLimitError(f"{path.name} is {size / 1e6:.1f} MB; files are read up to {MAX_FILE_BYTES // 2**20} MB. "
                               "Give the chapter or pages this video needs.")
    data = path.read_bytes()
    title, text = _extract(data, suffix, path.name)
    return _checked(SourceDoc(source_id, title or path.stem, "file", str(path), text), path.name)


def from_url(url: str, source_id: str = "S1", *, offline: bool = False, timeout_s: float = URL_TIMEOUT_S,
             allow_private: bool = False) -> SourceDoc:
    """A web page (its main text, by trafilatura), or a .txt/.md/.pdf document served over http(s)."""
    if offline:
        raise SourceFetchError(f"{url}: this workbench is offline, so web pages are not fetched. Save the page and "
                               "add it as a file, or paste its text.")
    data, content_type = _fetch(url, timeout_s, allow_private)
    path = urlsplit(url).path.lower()
    if "pdf" in content_type or path.endswith(".pdf"):
        suffix = ".pdf"
    elif "markdown" in content_type or path.endswith((".md", ".markdown")):
        suffix = ".md"
    elif content_type.startswith("text/plain") or path.endswith(".txt"):
        suffix = ".txt"
    else:
        suffix = ".html"
    title, text = _extract(data, suffix, url)
    return _checked(SourceDoc(source_id, title or urlsplit(url).netloc, "url", url, text), url)


def private_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a source may not be fetched from ``address`` (only this machine or its network reaches it), or None."""
    if not address.is_global or address.is_multicast:
        return "a private address that sources may not reach unless the owner allows it"
    return None


def _fetch(url: str, timeout_s: float, allow_private: bool = False) -> tuple[bytes, str]:
    import httpx

    from pipeline.safehttp import AddressRefused, deadline, guarded_client

    # Checked where it connects (every redirect too), so a name cannot answer one address to the check and
    # another to the connection; and ``timeout_s`` bounds the whole fetch, not each read of a trickling server.
    try:
        with deadline(timeout_s), guarded_client(None if allow_private else private_reason, timeout=timeout_s,
                                                 follow_redirects=True, max_redirects=5,
                                                 headers={"User-Agent": USER_AGENT}) as client:
            with client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise SourceFetchError(f"{url} answered HTTP {response.status_code}: check the address, or save "
                                           "the page and add it as a file.")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_URL_BYTES:
                    raise SourceLimitError(f"{url} is {int(declared) / 1e6:.1f} MB; pages are read up to "
                                           f"{MAX_URL_BYTES // 2**20} MB. Give the part this video needs as a file.")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_URL_BYTES:
                        raise SourceLimitError(f"{url} sent more than {MAX_URL_BYTES // 2**20} MB; give the part "
                                               "this video needs as a file.")
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("content-type", "").lower()
    except AddressRefused as exc:
        raise SourceFetchError(f"{url}: {exc} (YTEMPIRE_SOURCES_ALLOW_PRIVATE=1). Save the page and add it as a file "
                               "instead.") from None
    except httpx.TimeoutException:
        raise SourceFetchError(f"{url} did not answer within {timeout_s:g} s: try again later, or save the page and "
                               "add it as a file.") from None
    except httpx.HTTPError as exc:
        raise SourceFetchError(f"Could not fetch {url} ({type(exc).__name__}: {exc}). Check the address and that "
                               "this machine is online, or save the page and add it as a file.") from None


def _extract(data: bytes, suffix: str, name: str) -> tuple[str, str]:
    """(title, text) of a file's bytes; title '' when the format has none."""
    if suffix == ".pdf":
        return _pdf_text(data, name)
    raw = _decode(data, name)
    if suffix in (".html", ".htm"):
        return _html_text(raw, name)
    if suffix in (".md", ".markdown"):
        text = markdown_to_text(raw)
        heading = re.search(r"(?m)^\s*#\s+(.+?)\s*#*\s*$", raw)
        return (heading.group(1).strip() if heading else ""), text
    return "", _paragraphs(raw)


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SourceTextError(f"{name} is not UTF-8 text: save it as UTF-8 and add it again.")


def _checked(doc: SourceDoc, name: str) -> SourceDoc:
    doc.text = doc.text.strip()
    if len(doc.text) > MAX_SOURCE_CHARS:
        raise SourceLimitError(f"{name} holds {len(doc.text):,} characters of text; the limit is "
                               f"{MAX_SOURCE_CHARS:,} per source. Give the part this video needs.")
    if len(words(doc.text)) < MIN_SOURCE_WORDS:
        raise SourceTextError(f"{name} has almost no readable text ({len(words(doc.text))} words). If it is a "
                              "scanned PDF or an image, paste its text instead.")
    doc.title = " ".join(doc.title.split())[:200]
    return doc


def _paragraphs(text: str) -> str:
    """Plain text -> one paragraph per line (lines of a paragraph joined, blank lines dropped)."""
    out, current = [], []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return "\n".join(out)


_MD_FENCE = re.compile(r"(?ms)^\s*(```|~~~).*?^\s*\1[^\n]*$")
_MD_FRONT = re.compile(r"\A---\n.*?\n---\n", re.S)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_REFDEF = re.compile(r"(?m)^\s*\[[^\]]+\]:\s*\S+.*$")
_MD_FOOTNOTE = re.compile(r"\[\^[^\]]+\]")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_MD_CODE = re.compile(r"`([^`]*)`")
_MD_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_MD_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(.*)$")
_MD_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")


def markdown_to_text(text: str) -> str:
    """Markdown -> prose, one paragraph per line: headings kept as their own lines (section hints),
    list items as lines of their own, code blocks, tables, images and link targets left out."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _MD_FRONT.sub("", text)
    text = _MD_FENCE.sub("\n", text)
    text = _MD_REFDEF.sub("", text)
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(" ".join(paragraph))
            paragraph.clear()

    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or _MD_RULE.match(stripped) or stripped.startswith("|"):
            flush()  # a blank line, a rule or a table row ends the paragraph (tables are not prose)
            continue
        heading = _MD_HEADING.match(line)
        bullet = _MD_BULLET.match(line)
        if heading:
            flush()
            out.append(_inline(heading.group(1)))
        elif bullet:
            flush()
            item = _inline(bullet.group(1))
            if item and item[-1:] not in ".!?:;":
                item += "."  # an item is a point, never a heading (a fragment is then too short to be said)
            out.append(item)
        else:
            paragraph.append(_inline(stripped.lstrip("> ").strip()))
    flush()
    return "\n".join(line for line in out if line.strip())


def _inline(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_FOOTNOTE.sub("", text)
    text = _MD_CODE.sub(r"\1", text)
    text = _MD_TAG.sub("", text)
    for _ in range(2):  # nested emphasis (***x***)
        text = _MD_EMPHASIS.sub(r"\2", text)
    return " ".join(html_lib.unescape(text).split())


def _html_text(raw: str, name: str) -> tuple[str, str]:
    import trafilatura

    try:
        text = trafilatura.extract(raw, output_format="txt", include_comments=False, include_tables=False,
                                   include_links=False, include_images=False, favor_precision=True)
    except Exception as exc:  # noqa: BLE001 - lxml errors on broken markup: the operator's words instead
        raise SourceTextError(f"{name}: the page could not be parsed ({type(exc).__name__}). Save it again, or "
                              "paste its text.") from None
    if not text or not text.strip():
        raise SourceTextError(f"{name}: no main text was found on the page (it may need JavaScript, or be only "
                              "links). Paste the text you want used instead.")
    title = ""
    try:
        meta = trafilatura.extract_metadata(raw)
        title = (meta.title or "") if meta is not None else ""
    except Exception:  # noqa: BLE001 - a title is a nicety; the text is what matters
        pass
    if not title:
        found = re.search(r"(?is)<title[^>]*>(.*?)</title>", raw)
        title = html_lib.unescape(found.group(1)).strip() if found else ""
    return title, _paragraphs(text.replace("\n", "\n\n"))


def _pdf_text(data: bytes, name: str) -> tuple[str, str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise SourceTextError(f"{name} is encrypted: save an unprotected copy, or paste its text.")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title") or "")
    except SourceTextError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise SourceTextError(f"{name} is not a readable PDF ({type(exc).__name__}): export it again, or paste "
                              "its text.") from None
    return title.strip(), "\n".join(p for p in (_pdf_page(page) for page in pages) if p)


def _pdf_page(text: str) -> str:
    """A PDF page's layout lines rejoined into paragraphs: hyphenated breaks mended, a short line that
    ends a sentence ends its paragraph, a short unpunctuated line after one is a heading."""
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    longest = max(len(line) for line in lines)
    out, current = [], []
    for line in lines:
        ended = not current
        if ended and len(line.split()) <= 8 and line[-1] not in ".!?,;:" and line[:1].isupper():
            out.append(line)  # a heading
            continue
        current.append(line)
        if line[-1] in ".!?\"”" and len(line) < 0.8 * longest:
            out.append(" ".join(current))
            current = []
    if current:
        out.append(" ".join(current))
    return "\n".join(out)


# -- candidate sentences -------------------------------------------------------------------------

@dataclass
class Candidate:
    """A sentence a source offers the writer, already lightly trimmed."""

    source: str  # the SourceDoc id
    index: int  # its place among the source's sentences (junk included), for ordering and antecedents
    text: str  # as the script would say it
    heading: str  # the source heading it sits under ('' before any)
    needs_previous: bool  # opens with a word that points back ("It", "This", "They"...)


MIN_WORDS, MAX_WORDS = 5, 40  # a sentence outside these is a fragment or too long to follow when heard
HEADING_MAX_WORDS = 12

_CITATION = re.compile(r"\s*\[(?:\d+(?:[,–-]\s*\d+)*|[a-z]|citation needed|note \d+|\^?\d+)\]", re.I)
_PARENTHETICAL = re.compile(r"\s*\([^()]{0,120}\)")
# Openers that tie a sentence to the one before; dropping them keeps the claim and loses the tie.
_CONNECTIVE = re.compile(r"^(?:(?:However|Moreover|Furthermore|In addition|Additionally|Also|Still|Indeed|Meanwhile|"
                         r"Nevertheless|Nonetheless|Instead|Thus|Therefore|Hence|So|Besides|Likewise|Similarly|"
                         r"In fact|Of course|For example|For instance|In particular|Notably|Overall|In short|"
                         r"As a result|In other words|Even so|After all),\s+|(?:And|But|Yet)\s+)")
_POINTS_BACK = re.compile(r"^(?:It|Its|It's|This|These|That|Those|He|She|His|Her|They|Their|Them|Such|Here|Both|"
                          r"Another|Others|The latter|The former|The same|\w+ of (?:them|these|those|this|it))\b")
_JUNK = re.compile(r"(?i)\b(?:click|subscribe|sign up|sign in|log in|cookies?|newsletter|share this|all rights reserved|"
                   r"copyright|read more|advertisement|terms of (?:use|service)|privacy policy|follow us|"
                   r"retrieved|isbn|doi|see also|see below|as mentioned|shown in|figure \d|fig\. ?\d|"
                   r"table \d|this article|this page|this post|this video|in this section)\b"
                   r"|\bet al\.|\bpp\.\s*\d|https?://|www\.|@|©|\|")
_READER = re.compile(r"(?i)^(?:imagine|let's|let us|consider|think about|picture|remember|did you know|ever wondered)\b")


def trim(sentence: str) -> str:
    """A source sentence as a script says it: citation marks and short parentheticals dropped, a
    leading connective ("However,") dropped, first letter capitalised, end mark kept or added."""
    text = _CITATION.sub("", sentence)
    text = _PARENTHETICAL.sub("", text)
    text = " ".join(text.split())
    text = _CONNECTIVE.sub("", text, count=1)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text).strip(" ,;")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…\"'”" else text + "."


def is_heading(line: str) -> bool:
    """A line of a source's text that names a section rather than says something."""
    line = line.strip()
    return bool(line) and len(line.split()) <= HEADING_MAX_WORDS and line[-1] not in ".!?:;,\"'”)…"


def candidates(doc: SourceDoc) -> list[Candidate]:
    """The sentences of ``doc`` worth saying aloud, in order: no fragments, navigation, references,
    questions to the reader, unbalanced quotes or brackets; trimmed by :func:`trim`."""
    out: list[Candidate] = []
    heading, index = "", 0
    for line in doc.text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if is_heading(line):
            heading = line
            continue
        for raw in split_sentences(line):
            index += 1
            text = trim(raw)
            if not _keep(raw, text):
                continue
            out.append(Candidate(doc.id, index, text, heading, bool(_POINTS_BACK.match(text))))
    return out


def _keep(raw: str, text: str) -> bool:
    n = len(words(text))
    if not MIN_WORDS <= n <= MAX_WORDS or text.endswith("?") or raw.rstrip().endswith("?"):
        return False
    if _JUNK.search(raw) or _READER.match(text):
        return False
    if text.count('"') % 2 or text.count("(") != text.count(")") or text.count("“") != text.count("”"):
        return False
    letters = sum(c.isalpha() for c in text)
    if letters < 0.6 * len(text) or sum(w.isupper() and len(w) > 1 for w in text.split()) > n / 2:
        return False  # mostly numbers or symbols (a table row), or shouting (a banner)
    return True


# -- containment ---------------------------------------------------------------------------------

def _tokens(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in words(_CITATION.sub("", text))]


def _grams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    n = min(n, len(tokens))
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)} if n else set()


class TextIndex:
    """A source's word trigrams, to ask whether a sentence was taken from it (verbatim or lightly trimmed)."""

    def __init__(self, text: str):
        # the text as written and as trim() shortens it (parentheticals out), so a trimmed sentence is found whole
        versions = [_tokens(text), _tokens(_PARENTHETICAL.sub("", text))]
        self.grams = {n: set().union(*(_grams(tokens, n) for tokens in versions)) for n in (1, 2, 3)}

    def containment(self, sentence: str) -> float:
        """The share of the sentence's word trigrams found in the source (bigrams or words for very short
        sentences): 1.0 verbatim, ~0.85 with a parenthetical cut out, near 0 for a paraphrase."""
        tokens = _tokens(sentence)
        if not tokens:
            return 0.0
        n = min(3, len(tokens))
        grams = _grams(tokens, n)
        return len(grams & self.grams[n]) / len(grams)
