"""Which font draws which character: per-glyph fallback over DejaVu, Noto and Symbola.

A script in any language must render without empty boxes, on slides and thumbnails (Pillow) and in
burned-in captions (libass). One ordered chain of faces serves both: for each character the first face
whose cmap has it, read once per process with fontTools. DejaVu Sans comes first for Latin, Greek and
Cyrillic, so Latin-only output looks as it always has; Noto Sans and the Noto script fonts cover the
rest, Noto Sans CJK the Han, kana and Hangul, Symbola the emoji (as monochrome outlines, which both
Pillow and libass draw; colour emoji fonts are bitmaps that libass cannot draw).

The fonts live in one folder (:func:`fonts_dir`), filled by ``make fonts``; libass is given the same
folder (the subtitles filter's ``fontsdir``) and the family names here are the ones it matches.
"""

from __future__ import annotations

import logging
import os
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VAR = "YTEMPIRE_FONTS_DIR"
BUNDLED_DIR = Path(__file__).parent / "fonts"
PREFIX_DIR = Path(sys.prefix) / "share" / "ytempire-fonts"
# Where distributions install Noto (Debian/Ubuntu, Fedora, Arch): searched when `make fonts` has not run.
SYSTEM_ROOTS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
SYSTEM_NOTO_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/google-noto"),
                    Path("/usr/share/fonts/noto"), Path("/usr/local/share/fonts/noto"))
FONT_SUFFIXES = (".ttf", ".ttc", ".otf")

# DejaVu has Arabic and Hebrew too, but without the shaping Noto's script fonts have: it yields those
# ranges to them (and is used there only when no other font has the character).
RTL_RANGES = ((0x0590, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF))
SCRIPTS = ("Arabic", "Hebrew", "Devanagari", "Bengali", "Tamil", "Telugu", "Kannada", "Malayalam", "Gujarati",
           "Gurmukhi", "Oriya", "Sinhala", "Thai", "Lao", "Khmer", "Myanmar", "Georgian", "Armenian", "Ethiopic",
           "Thaana")


@dataclass(frozen=True)
class Slot:
    """One place in the fallback chain: file names (alternatives) for regular and bold."""

    regular: tuple[str, ...]
    bold: tuple[str, ...] = ()
    cjk: bool = False  # a .ttc of regional variants: the face is chosen by the text (kana: JP, Hangul: KR)
    yields: tuple[tuple[int, int], ...] = ()  # ranges this face leaves to later faces when they have them
    text: bool = True  # usable as a caption's main font (symbol fonts are not)


CHAIN = (
    Slot(("DejaVuSans.ttf",), ("DejaVuSans-Bold.ttf",), yields=RTL_RANGES),
    Slot(("NotoSans-Regular.ttf",), ("NotoSans-Bold.ttf",)),
    *(Slot((f"NotoSans{s}-Regular.ttf",), (f"NotoSans{s}-Bold.ttf",)) for s in SCRIPTS),
    Slot(("NotoSansCJK-Regular.ttc",), ("NotoSansCJK-Bold.ttc",), cjk=True),
    Slot(("Symbola_hint.ttf", "Symbola.ttf"), text=False),
    Slot(("NotoSansSymbols-Regular.ttf",), ("NotoSansSymbols-Bold.ttf",), text=False),
    Slot(("NotoSansSymbols2-Regular.ttf",), text=False),
)
CJK_VARIANTS = ("SC", "JP", "KR", "TC")


@dataclass(frozen=True)
class Face:
    """One font face: its file, its index inside a .ttc, and the family name libass matches (``\\fn``).
    ``upem``, ``win_ascent`` and ``win_descent`` size it the way libass does (by the OS/2 win cell)."""

    path: Path
    index: int
    family: str
    upem: int = 1000
    win_ascent: int = 800
    win_descent: int = 200

    @property
    def em_per_size(self) -> float:
        """The em in pixels per pixel of ASS font size: libass makes winAscent + winDescent the size."""
        return self.upem / max(1, self.win_ascent + self.win_descent)


def _has_fonts(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(p.suffix.lower() in FONT_SUFFIXES for p in folder.iterdir())
    except OSError:
        return False


def fonts_dir() -> Path:
    """The fonts folder: $YTEMPIRE_FONTS_DIR, else ``make fonts``' folder in the venv, else a system Noto
    folder, else the bundled DejaVu folder. libass is given this folder; it finds system fonts itself."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        if _has_fonts(Path(env).expanduser()):
            return Path(env).expanduser()
        log.warning("%s=%s holds no fonts: looking elsewhere", ENV_VAR, env)
    if _has_fonts(PREFIX_DIR):
        return PREFIX_DIR
    for folder in SYSTEM_NOTO_DIRS:
        if (folder / "NotoSans-Regular.ttf").exists():
            return folder
    return BUNDLED_DIR


@lru_cache(maxsize=8)
def _index(folder: Path) -> dict[str, Path]:
    """File name -> path for the fonts this chain wants: the bundled DejaVu first (so Latin draws with the
    very file it always has), then the fonts folder, then the system's font trees."""
    wanted = {n for s in CHAIN for n in (*s.regular, *s.bold)}
    found: dict[str, Path] = {}
    for root in (BUNDLED_DIR, folder, *SYSTEM_ROOTS):
        for dirpath, _, names in os.walk(root):
            for name in names:
                if name in wanted and name not in found:
                    found[name] = Path(dirpath) / name
    return found


@lru_cache(maxsize=256)
def _open_face(path: Path, index: int) -> tuple[Face, frozenset[int]]:
    from fontTools.ttLib import TTFont

    with TTFont(str(path), fontNumber=index, lazy=True) as font:
        name = font["name"]
        family = name.getDebugName(1) or path.stem
        os2, head = font["OS/2"], font["head"]
        face = Face(path, index, family, head.unitsPerEm, os2.usWinAscent, os2.usWinDescent)
        return face, frozenset(font.getBestCmap() or {})


@lru_cache(maxsize=16)
def _cjk_indices(path: Path) -> dict[str, int]:
    """Variant ("SC", "JP", ...) -> face index in a Noto Sans CJK collection (the proportional faces)."""
    from fontTools.ttLib import TTCollection

    out: dict[str, int] = {}
    with TTCollection(str(path), lazy=True) as ttc:
        for i, font in enumerate(ttc.fonts):
            family = font["name"].getDebugName(1) or ""
            if "Mono" not in family and family.rsplit(" ", 1)[-1] in CJK_VARIANTS:
                out.setdefault(family.rsplit(" ", 1)[-1], i)
    return out


def cjk_variant(text: str) -> str:
    """Which regional CJK face suits the text: kana means Japanese, Hangul Korean, else Simplified Chinese."""
    for ch in text:
        cp = ord(ch)
        if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF:
            return "JP"
        if 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
            return "KR"
    return "SC"


def _chain(bold: bool, text: str, prefer: str) -> list[tuple[Face, frozenset[int], tuple]]:
    # A chosen CJK family ("Noto Sans CJK JP") fixes the variant; otherwise the text decides.
    variant = prefer.rsplit(" ", 1)[-1] if prefer.rsplit(" ", 1)[-1] in CJK_VARIANTS else cjk_variant(text)
    return _chain_in(fonts_dir(), bold, variant, prefer)


@lru_cache(maxsize=64)
def _chain_in(folder: Path, bold: bool, variant: str, prefer: str) -> list[tuple[Face, frozenset[int], tuple]]:
    index = _index(folder)
    chain = []
    for slot in CHAIN:
        names = (*slot.bold, *slot.regular) if bold else slot.regular
        path = next((index[n] for n in names if n in index), None)
        if path is None:
            continue
        try:
            if slot.cjk:
                variants = _cjk_indices(path)
                faces = [_open_face(path, variants[v]) for v in (variant, *CJK_VARIANTS) if v in variants][:1]
            else:
                faces = [_open_face(path, 0)]
        except Exception as exc:  # noqa: BLE001 - a damaged font file must not stop every render
            log.warning("font %s cannot be read (%s): skipped", path, exc)
            continue
        chain += [(face, cmap, slot.yields) for face, cmap in faces]
    if prefer:  # a chosen caption font goes first; the rest stay behind it as fallback
        chain.sort(key=lambda entry: entry[0].family != prefer)
    return chain


def ignorable(ch: str) -> bool:
    """Characters that need no glyph: spaces, controls, format characters (ZWJ, bidi marks), variation
    selectors. Shapers drop them or draw nothing, so they ride along with their neighbours' font."""
    cp = ord(ch)
    return (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
            or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF)


def _covering(cp: int, chain: list) -> Face | None:
    for face, cmap, yields in chain:
        if cp in cmap and not any(a <= cp <= b for a, b in yields):
            return face
    # Only a face that yields this range has it: better that than a box.
    return next((face for face, cmap, _ in chain if cp in cmap), None)


def runs(text: str, bold: bool = False, prefer: str = "") -> list[tuple[str, Face]]:
    """Split text into runs, each with the face that has all its characters, in logical order.

    Letters take the first face in the chain that has them; punctuation, digits, symbols and marks stay
    in the current run's face when it has them (so "مرحبا، 2024." is one Arabic run, and a mark stays with
    its base); ignorable characters always ride along. ``prefer`` names a family to try first."""
    return list(_runs(text, bold, prefer, fonts_dir()))


@lru_cache(maxsize=4096)  # wrapping measures the same words many times over
def _runs(text: str, bold: bool, prefer: str, folder: Path) -> tuple[tuple[str, Face], ...]:
    chain = _chain(bold, text, prefer)
    if not chain:
        raise FileNotFoundError(f"No fonts found in {fonts_dir()} or {BUNDLED_DIR}: run `make fonts`.")
    out: list[list] = []
    pending = ""
    for ch in text:
        current = out[-1][1] if out else None
        if ignorable(ch):
            if current is None:
                pending += ch
            else:
                out[-1][0] += ch
            continue
        cp = ord(ch)
        face = None
        if current is not None and not unicodedata.category(ch).startswith("L") and cp in _cmap_of(current, chain):
            face = current
        face = face or _covering(cp, chain) or current or chain[0][0]
        if face == current:
            out[-1][0] += ch
        else:
            out.append([pending + ch, face])
            pending = ""
    if not out:
        return ((text, chain[0][0]),) if text else ()
    if pending:
        out[-1][0] += pending
    return tuple((t, f) for t, f in out)


def _cmap_of(face: Face, chain: list) -> frozenset[int]:
    return next((cmap for f, cmap, _ in chain if f == face), frozenset())


def missing_glyphs(text: str, bold: bool = False) -> set[str]:
    """Characters of text that no font in the chain has (ignorable ones aside): these would show as boxes."""
    chain = _chain(bold, text, "")
    return {ch for ch in set(text) if not ignorable(ch) and not any(ord(ch) in cmap for _, cmap, _ in chain)}


def covers(face: Face, ch: str) -> bool:
    """Whether face has a glyph for ch (by its cmap)."""
    return ord(ch) in _open_face(face.path, face.index)[1]


def family_for(text: str, bold: bool = False) -> str:
    """One family for a whole line: the first that has every character, else the one drawing most of it."""
    chain = _chain(bold, text, "")
    needed = {ord(ch) for ch in text if not ignorable(ch)}
    for face, cmap, yields in chain:
        if needed <= cmap and not any(a <= cp <= b for cp in needed for a, b in yields):
            return face.family
    counts: dict[str, int] = {}
    for run, face in runs(text, bold):
        counts[face.family] = counts.get(face.family, 0) + len(run)
    return max(counts, key=counts.get) if counts else chain[0][0].family


def available_fonts() -> list[str]:
    """Families a caption may choose as its main font (text faces found here, in chain order)."""
    families: list[str] = []
    index = _index(fonts_dir())
    for slot in CHAIN:
        path = next((index[n] for n in slot.regular if n in index), None)
        if path is None or not slot.text:
            continue
        try:
            names = ([_open_face(path, i)[0].family for i in _cjk_indices(path).values()] if slot.cjk
                     else [_open_face(path, 0)[0].family])
        except Exception:  # noqa: BLE001 - listed as missing rather than failing the form
            continue
        families += [n for n in names if n not in families]
    return families


def base_face(bold: bool = False, prefer: str = "") -> Face:
    """The face a line starts in: the preferred family when it is here, else the first of the chain (DejaVu)."""
    chain = _chain(bold, "", prefer)
    if not chain:
        raise FileNotFoundError(f"No fonts found in {fonts_dir()} or {BUNDLED_DIR}: run `make fonts`.")
    return chain[0][0]


@lru_cache(maxsize=256)
def pillow_font(face: Face, size: int):
    """The Pillow font for a face at an em size in pixels (Raqm layout: shaping, bidi, scripts)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(face.path), size, index=face.index)
