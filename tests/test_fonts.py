"""Every script renders: per-glyph font fallback on slides, thumbnails and burned-in captions."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw

from pipeline.media import bidi, captions, ffmpeg, fonts
from pipeline.media.draw import BOLD, REGULAR, draw_text, font, segments, text_length, wrap
from pipeline.media.render import escape
from pipeline.media.slides import draw_slide
from pipeline.media.thumbnail import make_thumbnail
from pipeline.providers.base import Brand, Cue, Word
from pipeline.script import Block

SAMPLES = {
    "latin": "Why octopuses have three hearts",
    "cyrillic": "Почему у осьминога три сердца",
    "greek": "Γιατί το χταπόδι έχει τρεις καρδιές",
    "arabic": "لماذا للأخطبوط ثلاثة قلوب؟",
    "hebrew": "למה לתמנון שלושה לבבות",
    "devanagari": "ऑक्टोपस के तीन दिल क्यों होते हैं",
    "chinese": "为什么章鱼有三颗心脏？",
    "japanese": "タコにはなぜ心臓が三つあるのか",
    "korean": "문어는 왜 심장이 세 개일까",
    "thai": "ทำไมปลาหมึกยักษ์มีสามหัวใจ",
    "emoji": "Octopus facts 🐙❤️👋🏽🔥",
}


@pytest.fixture(scope="module", autouse=True)
def noto():
    """These tests need the fonts `make fonts` installs (make test runs it first)."""
    assert not fonts.missing_glyphs("中ب"), (
        f"No CJK/Arabic font in {fonts.fonts_dir()}: run `make fonts` (see the Makefile) or set YTEMPIRE_FONTS_DIR.")


def _cmap(face: fonts.Face) -> set[int]:
    with TTFont(str(face.path), fontNumber=face.index, lazy=True) as f:  # read afresh: not the module's cache
        return set(f.getBestCmap())


def _assert_covered(text: str, bold: bool = False):
    assert fonts.missing_glyphs(text, bold) == set()
    for run, face in fonts.runs(text, bold):
        cmap = _cmap(face)
        lacking = [ch for ch in run if not fonts.ignorable(ch) and ord(ch) not in cmap]
        assert not lacking, f"{face.family} lacks {lacking} in {run!r}"


@pytest.mark.parametrize("script", SAMPLES)
def test_every_character_is_drawn_by_a_font_that_has_it(script):
    _assert_covered(SAMPLES[script])
    _assert_covered(SAMPLES[script], bold=True)


def test_each_script_goes_to_its_font_and_latin_stays_dejavu():
    assert fonts.runs("Hello, world") == [("Hello, world", fonts.runs("Hello, world")[0][1])]
    assert fonts.runs("Hello, world")[0][1].path == REGULAR
    assert fonts.runs("Hello", bold=True)[0][1].path == BOLD
    assert {f.family for _, f in fonts.runs(SAMPLES["arabic"])} == {"Noto Sans Arabic"}  # not DejaVu's Arabic
    assert fonts.runs(SAMPLES["chinese"])[0][1].family == "Noto Sans CJK SC"
    assert fonts.runs(SAMPLES["japanese"])[0][1].family == "Noto Sans CJK JP"  # kana picks the Japanese face
    assert fonts.runs(SAMPLES["korean"])[0][1].family == "Noto Sans CJK KR"
    mixed = fonts.runs("Hi مرحبا 2024، world 👋")
    assert [f.family for _, f in mixed] == ["DejaVu Sans", "Noto Sans Arabic", "DejaVu Sans", "Symbola"]
    assert mixed[1][0] == "مرحبا 2024، "  # digits and punctuation stay in the Arabic run
    assert fonts.family_for(SAMPLES["chinese"]) == "Noto Sans CJK SC" and fonts.family_for("Hello") == "DejaVu Sans"


def test_ignorable_characters_need_no_glyph():
    assert fonts.missing_glyphs("a\u200db\ufe0f\u200e \t") == set()  # ZWJ, VS16, LRM, spaces
    assert fonts.missing_glyphs("\U000E0001x") == set()  # a tag character (format)
    assert fonts.missing_glyphs("\U0001FAE8") <= {"\U0001FAE8"}  # a 2022 emoji: reported if no font has it


def test_the_fonts_folder_is_found_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path))  # empty: passed over
    assert fonts.fonts_dir() != tmp_path
    (tmp_path / "DejaVuSans.ttf").write_bytes(REGULAR.read_bytes())
    assert fonts.fonts_dir() == tmp_path
    monkeypatch.delenv(fonts.ENV_VAR)
    monkeypatch.setattr(fonts, "PREFIX_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(fonts, "SYSTEM_NOTO_DIRS", ())
    assert fonts.fonts_dir() == fonts.BUNDLED_DIR


def test_latin_is_drawn_exactly_as_before():
    """A Latin line is one call of draw.text with the DejaVu font: existing renders keep their look."""
    fnt = font(64, bold=True)
    a, b = Image.new("RGB", (900, 120)), Image.new("RGB", (900, 120))
    draw_text(ImageDraw.Draw(a), (10, 10), "Octopuses have three hearts", fnt, (255, 255, 255))
    ImageDraw.Draw(b).text((10, 10), "Octopuses have three hearts", font=fnt, fill=(255, 255, 255))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert segments("Octopuses", fnt) == [("Octopuses", fnt, "ltr")]
    assert text_length("Octopuses", fnt) == fnt.getlength("Octopuses")


def test_right_to_left_pieces_are_put_in_visual_order():
    order = bidi.visual_pieces([(ch, 0) for ch in "AB مرحبا بالعالم CD"], "ltr")
    assert [t for t, _, _ in order] == ["AB ", "مرحبا بالعالم", " CD"]  # one RTL piece, shaped right to left
    # An RTL paragraph: its first word rightmost, the Latin word inside still left to right (each RTL piece
    # keeps its logical text, for the shaper to lay out right to left).
    pieces = bidi.visual_pieces([(ch, ch == "H") for ch in "مرحبا Hello بالعالم"], "rtl")
    assert pieces == [(" بالعالم", False, 1), ("H", True, 2), ("ello", False, 2), ("مرحبا ", False, 1)]
    assert bidi.visual_pieces([(c, 0) for c in "שלום 3.5%"], "rtl") == [("3.5%", 0, 2), ("שלום ", 0, 1)]


def test_a_mixed_line_drawn_in_pieces_matches_one_shaped_line(monkeypatch, tmp_path):
    """With one font for everything (DejaVu alone), the piecewise bidi drawing must give what Raqm gives
    for the whole line, so our reordering is the bidi algorithm's."""
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        (tmp_path / name).write_bytes((REGULAR.parent / name).read_bytes())
    monkeypatch.setenv(fonts.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(fonts, "SYSTEM_ROOTS", ())
    fnt = font(48)
    for text, base in (("Hello مرحبا بالعالم world", "ltr"), ("مرحبا Hello بالعالم 2024", "rtl")):
        ours, raqm = Image.new("L", (1000, 90)), Image.new("L", (1000, 90))
        draw_text(ImageDraw.Draw(ours), (10, 10), text, fnt, 255, base)
        ImageDraw.Draw(raqm).text((10, 10), text, font=fnt, fill=255, direction=base)
        a, b = np.asarray(ours) > 128, np.asarray(raqm) > 128
        assert (a ^ b).sum() < 0.03 * b.sum(), text


def test_chinese_wraps_between_characters_and_keeps_punctuation_attached():
    fnt = font(60)
    lines = wrap("为什么章鱼有三颗心脏？这是一个很长的标题需要换行", fnt, 500)
    assert len(lines) > 1 and "".join(lines) == "为什么章鱼有三颗心脏？这是一个很长的标题需要换行"
    assert all(text_length(line, fnt) <= 500 for line in lines)
    assert not any(line.startswith("？") for line in lines)


def _ink(img: Image.Image, box, colour=(255, 255, 255), tol=40) -> int:
    a = np.asarray(img.convert("RGB").crop(box), dtype=int)
    return int((np.abs(a - colour).max(axis=2) < tol).sum())


@pytest.mark.parametrize("script", SAMPLES)
def test_a_slide_and_a_thumbnail_draw_every_script(script, tmp_path):
    text = SAMPLES[script]
    _assert_covered(text, bold=True)
    slide = draw_slide(Block("section-1", text, []), 1, 2, Brand("Test"), (1920, 1080), [text])
    w, h = slide.size
    assert _ink(slide, (0, int(h * 0.2), w, int(h * 0.45))) > 2000  # the heading's white text
    thumb = Image.open(make_thumbnail(text, Brand("Test"), tmp_path / "t.jpg"))
    assert _ink(thumb, (90, 70, 1280, 600)) > 3000


def test_right_to_left_headings_are_set_flush_right():
    def halves(heading):
        slide = draw_slide(Block("section-1", heading, []), 1, 2, Brand("Test"), (1920, 1080), [])
        w, h = slide.size
        top, bottom = int(h * 0.2), int(h * 0.33)
        return _ink(slide, (0, top, w // 2, bottom)), _ink(slide, (w // 2, top, w, bottom))

    left, right = halves("مرحبا بكم")
    assert right > 1000 and left == 0
    left, right = halves("Hello there")
    assert left > 1000 and right == 0


def _render_frames(ass: Path, size, times) -> list[np.ndarray]:
    w, h = size
    out = []
    for t in times:
        raw = subprocess.run(
            [ffmpeg.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:d=0.04", "-vf",
             f"setpts=PTS+{t}/TB,subtitles=filename={escape(str(ass))}:fontsdir={escape(str(fonts.fonts_dir()))}",
             "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True,
            timeout=60).stdout
        out.append(np.frombuffer(raw, np.uint8).reshape(h, w))
    return out


def test_burned_in_captions_draw_every_script_in_the_font_measured(tmp_path):
    size = (1920, 1080)
    cues = [Cue(i * 2.0, i * 2.0 + 1.5, text, "hook") for i, text in enumerate(SAMPLES.values())]
    style = captions.CaptionStyle(outline=0, shadow=0)
    ass = captions.write_ass(cues, size, style, tmp_path / "c.ass").read_text()
    families = {f.family: f for text in SAMPLES.values() for _, f in fonts.runs(text, True)}
    for event in (line for line in ass.splitlines() if line.startswith("Dialogue:")):
        body = event.split(",,0,0,0,,", 1)[1]
        family = "DejaVu Sans"
        for tags, run in re.findall(r"(\{[^}]*\})?([^{]*)", body):
            family = (re.findall(r"\\fn([^\\}]+)", tags) or [family])[-1]
            cmap = _cmap(families[family])
            assert all(fonts.ignorable(ch) or ord(ch) in cmap for ch in run), (family, run)
    frames = _render_frames(tmp_path / "c.ass", size, [c.start + 0.5 for c in cues])
    geo = captions.geometry(size, style)
    for cue, frame in zip(cues, frames):
        xs = np.nonzero((frame > 128).any(axis=0))[0]
        assert xs.size, f"no ink for {cue.text!r}"
        predicted = captions.measure(cue.text, geo)[0]
        assert abs((xs.max() - xs.min()) - predicted) < 0.08 * predicted + 12, cue.text  # libass used our fonts


def test_karaoke_keeps_right_to_left_order_when_a_word_is_lit(tmp_path):
    """Lighting one word splits the line into runs; the style's Encoding -1 keeps libass's bidi across them."""
    text = "AB مرحبا بالعالم CD"
    words = [Word(i * 1.0, i * 1.0 + 1.0, w) for i, w in enumerate(text.split())]
    cue = Cue(0.0, 4.0, text, "hook", words)
    plain = captions.write_ass([cue], (1920, 1080), captions.CaptionStyle(outline=0, shadow=0), tmp_path / "p.ass")
    lit = captions.write_ass([cue], (1920, 1080), captions.CaptionStyle("karaoke", outline=0, shadow=0),
                             tmp_path / "k.ass")
    (reference,) = _render_frames(plain, (1920, 1080), [0.5])
    for frame in _render_frames(lit, (1920, 1080), [1.5, 2.5]):
        a, b = frame > 60, reference > 60
        assert (a ^ b).sum() < 0.03 * b.sum()
