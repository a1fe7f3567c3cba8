"""Caption styles: placement inside the safe areas, word-exact highlights, pop groups, SRT and WebVTT."""

import re
import subprocess
import time

import numpy as np
import pytest

from pipeline.media import captions, ffmpeg, fonts
from pipeline.media.captions import CaptionStyle, ass_time, safe_area, validate_caption_options
from pipeline.media.render import escape
from pipeline.providers.base import Brand, Cue, Word

LAND, SHORTS = (1920, 1080), (1080, 1920)
BRAND = Brand("Test", primary_color="#1E2A44", accent_color="#F2B632", text_color="#FFFFFF")


def spoken(text: str, start: float, step: float = 0.3, gap: float = 0.04, pause_after: int = -1) -> Cue:
    """A sentence with word times: each word ``step`` apart, a 0.8 s pause after word ``pause_after``."""
    words, t = [], start
    for i, w in enumerate(text.split()):
        words.append(Word(round(t, 3), round(t + step - gap, 3), w))
        t += step + (0.8 if i == pause_after else 0.0)
    return Cue(words[0].start, words[-1].end, text, "section-1", words)


NARRATION = [
    spoken("Octopuses have three hearts and blue blood, which carries oxygen well in the cold deep sea.", 0.3),
    spoken("Two hearts pump blood through the gills; the third one stops when they swim.", 6.0, pause_after=4),
    spoken("Supercalifragilisticexpialidocious Donaudampfschifffahrtsgesellschaft words stay whole.", 11.5),
    spoken("为什么 章鱼 有 三颗 心脏？ مرحبا بالعالم 🐙", 15.0),
]


def _dialogues(path):
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("Dialogue:")]


def test_safe_areas():
    assert safe_area(LAND) == (96, 54, 1824, 1026)  # title-safe: 5% each side
    x0, y0, x1, y1 = safe_area(SHORTS)
    assert y0 >= 0.10 * 1920 and y1 <= 0.80 * 1920  # clear of the top bar and the bottom caption/UI zone
    assert x1 <= 0.88 * 1080 and x0 >= 0.04 * 1080  # clear of the action rail on the right


@pytest.mark.parametrize("size", [LAND, SHORTS])
@pytest.mark.parametrize("style", ["sentence", "karaoke", "pop"])
@pytest.mark.parametrize("percent, boxed", [(100, False), (200, True), (50, False)])
def test_no_caption_box_leaves_the_safe_area(size, style, percent, boxed):
    x0, y0, x1, y1 = safe_area(size)
    shown = captions.events(NARRATION, size, CaptionStyle(style, size=percent, boxed=boxed, outline=12, shadow=12))
    assert shown
    for e in shown:
        bx0, by0, bx1, by1 = e.box
        assert x0 <= bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1, (e.lines, e.box)


@pytest.mark.parametrize("size", [LAND, SHORTS])
@pytest.mark.parametrize("style", ["sentence", "pop"])
def test_rendered_captions_stay_inside_the_safe_area(tmp_path, size, style):
    """The real thing: libass draws screens on black; no lit pixel may fall outside the safe area. Each
    sampled event is moved to a second of its own, and one ffmpeg run renders a frame per second."""
    st = CaptionStyle(style, size=200 if style == "sentence" else 100)
    ass = captions.write_ass(NARRATION, size, st, tmp_path / "c.ass").read_text(encoding="utf-8")
    head, body = ass.split("[Events]\n", 1)
    fmt, *dialogues = body.strip().split("\n")
    sample = dialogues[::max(1, len(dialogues) // 12)]
    moved = [re.sub(r"^Dialogue: 0,[^,]+,[^,]+,", f"Dialogue: 0,{ass_time(i)},{ass_time(i + 1)},", d)
             for i, d in enumerate(sample)]
    (tmp_path / "m.ass").write_text(head + "[Events]\n" + "\n".join([fmt, *moved]) + "\n", encoding="utf-8")
    w, h = size
    raw = subprocess.run(
        [ffmpeg.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r=1:d={len(sample)}",
         "-vf", f"setpts=PTS+0.5/TB,subtitles=filename={escape(str(tmp_path / 'm.ass'))}"
                f":fontsdir={escape(str(fonts.fonts_dir()))}",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True, timeout=120).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, h, w)
    assert len(frames) == len(sample)
    x0, y0, x1, y1 = safe_area(size)
    for event, frame in zip(sample, frames):
        ys, xs = np.nonzero(frame > 40)
        assert xs.size, event
        assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1, event


@pytest.mark.parametrize("style", ["karaoke", "pop"])
def test_karaoke_and_pop_light_each_word_for_exactly_its_time(tmp_path, style):
    st = CaptionStyle.from_channel({"caption_style": style}, BRAND)
    lines = _dialogues(captions.write_ass(NARRATION[:2], LAND, st, tmp_path / "c.ass"))
    accent = r"\c&H32B6F2&"  # #F2B632 as ASS writes it (blue, green, red)
    lit = [line for line in lines if accent in line]
    words = [w for cue in NARRATION[:2] for w in cue.words]
    assert len(lit) == len(words)
    for k, (line, word) in enumerate(zip(lit, words)):
        start, end = line.split(",")[1:3]
        following = words[k + 1].start if k + 1 < len(words) else None
        bridged = following is not None and 0 <= following - word.end < captions.LIT_BRIDGE_S  # no flicker
        # (bridged only within a screen: the last word of a screen or pop group ends with its own time)
        assert start == ass_time(word.start) and end in {ass_time(word.end), ass_time(following if bridged else word.end)}
        assert line.split(accent, 1)[1].split("}", 1)[1].startswith(word.text)  # the accent is on that word
    # between lit words the same screen shows unlit: within a sentence the caption never blinks off
    for cue in NARRATION[:2]:
        inside = [e for e in captions.events([cue], LAND, st)]
        assert all(a.end == b.start for a, b in zip(inside, inside[1:])) or style == "pop"
        assert all(a.end <= b.start for a, b in zip(inside, inside[1:]))


def test_pop_groups_hold_one_to_three_words_within_a_clause_and_a_breath():
    cue = NARRATION[1]  # "...through the gills; the third..." with a pause after "through"
    screens = captions.screens(cue, captions.geometry(SHORTS, CaptionStyle("pop")), CaptionStyle("pop"))
    groups = [[t.text for t in lines[0]] for lines, _, _ in screens]
    assert all(1 <= len(g) <= 3 for g in groups) and all(len(lines) == 1 for lines, _, _ in screens)
    assert [w for g in groups for w in g] == cue.text.split()
    assert any(g[-1] == "through" for g in groups)  # the pause ends a group
    assert any(g[-1] == "gills;" for g in groups)  # so does a clause
    for cue in NARRATION:  # never across a sentence: groups come per cue
        for lines, start, end in captions.screens(cue, captions.geometry(LAND, CaptionStyle("pop")),
                                                  CaptionStyle("pop")):
            assert cue.start <= start <= end <= cue.end + captions.HOLD_S


def test_pop_is_large_and_centred_where_each_format_wants_it():
    for size, (low, high) in ((SHORTS, (0.55, 0.7)), (LAND, (0.66, 0.92))):
        pop = captions.events(NARRATION[:1], size, CaptionStyle("pop"))
        sentence = captions.events(NARRATION[:1], size, CaptionStyle())
        cy = [(e.box[1] + e.box[3]) / 2 / size[1] for e in pop]
        assert all(low <= y <= high for y in cy)
        x0, _, x1, _ = safe_area(size)
        assert all(abs((e.box[0] + e.box[2]) / 2 - (x0 + x1) / 2) < 2 for e in pop)
        assert captions.geometry(size, CaptionStyle("pop")).font_size > 1.3 * captions.geometry(
            size, CaptionStyle()).font_size
        assert sentence[0].box[3] > pop[0].box[3]  # sentences sit lower, at the bottom of the safe area


def test_lines_are_wrapped_by_measured_width():
    geo = captions.geometry(LAND, CaptionStyle())
    narrow, wide = "i" * 60, "W" * 60  # same characters, very different widths
    assert captions.measure(narrow, geo)[0] < geo.line_width < captions.measure(wide, geo)[0]
    cue = Cue(0, 5, " ".join(["Wwww"] * 30), "hook")
    for _, _, lines in captions.display([cue], LAND):
        assert all(captions.measure(line, geo)[0] <= geo.line_width for line in lines)
        assert len(lines) <= geo.max_lines


def test_fallback_fonts_are_named_in_the_ass(tmp_path):
    text = _dialogues(captions.write_ass(NARRATION[3:], LAND, CaptionStyle(), tmp_path / "c.ass"))[0]
    assert r"\fnNoto Sans CJK SC" in text and r"\fnNoto Sans Arabic" in text and r"\fnSymbola" in text
    assert "Style: Default,DejaVu Sans," in (tmp_path / "c.ass").read_text()
    assert (tmp_path / "c.ass").read_text().split("Style: Default,")[1].split("\n")[0].endswith(",-1")


def test_a_chosen_font_leads_and_fallback_still_covers(tmp_path):
    st = CaptionStyle(font="Noto Sans")
    ass = captions.write_ass(NARRATION[3:], LAND, st, tmp_path / "c.ass").read_text()
    assert "Style: Default,Noto Sans," in ass and r"\fnNoto Sans CJK SC" in ass


def test_cues_without_word_times_share_the_sentence_by_characters(tmp_path):
    cue = Cue(1.0, 3.0, "aaaa bb cccc", "hook")  # an old job: no words
    lit = [e for e in captions.events([cue], LAND, CaptionStyle("karaoke")) if e.highlight]
    assert [e.highlight for e in lit] == ["aaaa", "bb", "cccc"]
    assert lit[0].start == 1.0 and lit[-1].end == 3.0
    spans = [e.end - e.start for e in lit]
    assert spans == pytest.approx([2 * 4 / 12, 2 * 3 / 12, 2 * 5 / 12])  # "aaaa", " bb", " cccc"
    assert "<" not in captions.write_vtt([cue], LAND, tmp_path / "c.vtt").read_text().split("-->")[1]


def test_words_found_in_the_sentence_keep_its_punctuation():
    cue = Cue(0, 2, "Hello — world!", "hook", [Word(0, 0.5, "Hello"), Word(0.6, 1.2, "world")])
    (lines, _, _), = captions.screens(cue, captions.geometry(LAND, CaptionStyle()), CaptionStyle())
    assert [t.text for t in lines[0]] == ["Hello —", "world!"]


_VTT_TIME = r"\d{2}:\d{2}:\d{2}\.\d{3}"


def _secs(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_webvtt_is_valid_with_ordered_word_timestamps(tmp_path):
    text = captions.write_vtt(NARRATION, LAND, tmp_path / "c.vtt").read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n")
    blocks = [b for b in text.split("\n\n")[1:] if b.strip()]
    assert len(blocks) >= len(NARRATION)
    previous_end = 0.0
    for block in blocks:
        ident, timing, *payload = block.strip("\n").split("\n")
        assert ident.isdigit() and payload and all(payload)
        m = re.fullmatch(rf"({_VTT_TIME}) --> ({_VTT_TIME})", timing)
        assert m, timing
        start, end = _secs(m[1]), _secs(m[2])
        assert previous_end <= start < end
        previous_end = end
        stamps = [_secs(s) for s in re.findall(rf"<({_VTT_TIME})>", "\n".join(payload))]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert all(start < s < end for s in stamps)
        assert "-->" not in "\n".join(payload) and not re.search(r"<(?!\d{2}:)", "\n".join(payload))
    assert text.count("<00:00:") > 20  # word timing is there


def test_srt_keeps_its_shape(tmp_path):
    text = captions.write_srt(NARRATION[:2], LAND, tmp_path / "c.srt").read_text(encoding="utf-8")
    blocks = text.strip("\n").split("\n\n")
    for i, block in enumerate(blocks, start=1):
        number, timing, *lines = block.split("\n")
        assert number == str(i) and re.fullmatch(r"\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}", timing)
        assert 1 <= len(lines) <= 2
    assert text.startswith("1\n00:00:00,300 --> ")
    assert " ".join(" ".join(b.split("\n")[2:]) for b in blocks) == NARRATION[0].text + " " + NARRATION[1].text


@pytest.mark.parametrize("style", ["sentence", "karaoke", "pop"])
def test_coverage_counts_spoken_time_on_screen_in_every_style(style):
    shown = captions.display(NARRATION, LAND, CaptionStyle(style))
    assert captions.coverage(NARRATION, shown) >= 0.95
    assert captions.coverage(NARRATION, captions.events(NARRATION, LAND, CaptionStyle(style))) >= 0.95
    assert captions.coverage(NARRATION, shown[:1]) < 0.5


def test_style_from_channel_and_brand():
    st = CaptionStyle.from_channel({}, BRAND)
    assert (st.style, st.font, st.size, st.outline, st.shadow, st.boxed) == ("sentence", "", 100, 4, 2, False)
    assert st.text_colour == "#FFFFFF" and st.highlight_colour == "#F2B632"
    assert st.outline_colour != "#FFFFFF"  # dark, from the primary colour
    st = CaptionStyle.from_channel({"caption_style": "pop", "caption_size": 150, "caption_outline": 0,
                                    "caption_shadow": None, "caption_font": "Noto Sans"}, BRAND, boxed=True)
    assert (st.style, st.size, st.outline, st.shadow, st.font, st.boxed) == ("pop", 150, 0, 2, "Noto Sans", True)
    with pytest.raises(ValueError, match="Caption size"):
        CaptionStyle.from_channel({"caption_size": 500}, BRAND)


def test_caption_options_are_validated_with_their_limits():
    assert validate_caption_options("karaoke", "", 100, 4, 2) == []
    assert validate_caption_options("sentence", captions.available_fonts()[0], 50, 0, 12) == []
    problems = validate_caption_options("wobble", "Comic Sans", 201, -1, 13)
    assert len(problems) == 5
    assert "sentence, karaoke, pop" in problems[0] and "Comic Sans" in problems[1]
    assert "50 to 200" in problems[2] and "0 to 12" in problems[3] and "0 to 12" in problems[4]
    assert validate_caption_options(size="big") and validate_caption_options(outline=2.5)
    assert "Noto Sans CJK SC" in captions.available_fonts() and "Symbola" not in captions.available_fonts()


def _blank_video(path, size, seconds=1.5):
    w, h = size
    subprocess.run([ffmpeg.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    f"color=c=0x1E2A44:s={w}x{h}:r=10:d={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-crf", "12", "-pix_fmt", "yuv444p", str(path)], check=True, timeout=60)
    return path


def _frame(path, t, size):
    w, h = size
    raw = subprocess.run([ffmpeg.ffmpeg_exe(), "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(int)


@pytest.mark.parametrize("style, size", [("sentence", LAND), ("karaoke", LAND), ("pop", SHORTS)])
def test_each_style_burns_in_with_the_subtitles_filter(tmp_path, style, size):
    cue = spoken("Octopuses have three hearts.", 0.2)
    st = CaptionStyle.from_channel({"caption_style": style}, BRAND)
    ass = captions.write_ass([cue], size, st, tmp_path / "c.ass")
    blank = _blank_video(tmp_path / "blank.mp4", size)
    burned = tmp_path / "burned.mp4"
    subprocess.run([ffmpeg.ffmpeg_exe(), "-v", "error", "-i", str(blank), "-vf",
                    f"subtitles=filename={escape(str(ass))}:fontsdir={escape(str(fonts.fonts_dir()))}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-pix_fmt", "yuv444p", str(burned)],
                   check=True, timeout=120)
    word = cue.words[2]  # "three"
    frame = _frame(burned, (word.start + word.end) / 2, size)
    box = next(e.box for e in captions.events([cue], size, st) if e.highlight == "three" or style == "sentence")
    x0, y0, x1, y1 = (int(v) for v in box)
    white = (np.abs(frame - 255).max(axis=2) < 60)
    accent = (np.abs(frame - (0xF2, 0xB6, 0x32)).max(axis=2) < 50)
    assert white[y0:y1, x0:x1].sum() > 500  # text where the layout put it
    assert white.sum() - white[y0:y1, x0:x1].sum() < 50  # and nowhere else
    if style == "sentence":
        assert accent.sum() < 50
    else:
        assert accent[y0:y1, x0:x1].sum() > 300  # the spoken word in the brand accent


def test_preview_is_a_real_frame_with_the_word_lit_and_is_fast(tmp_path):
    from PIL import Image

    started = time.perf_counter()
    out = captions.preview_png(CaptionStyle.from_channel({"caption_style": "karaoke"}, BRAND), BRAND, (960, 540),
                               tmp_path / "preview.png")
    elapsed = time.perf_counter() - started
    img = np.asarray(Image.open(out).convert("RGB"), dtype=int)
    assert img.shape == (540, 960, 3)
    assert (np.abs(img - (0xF2, 0xB6, 0x32)).max(axis=2) < 40).sum() > 100  # the lit word
    assert (np.abs(img - 255).max(axis=2) < 40).sum() > 500  # the rest of the line
    assert elapsed < 5.0  # about half a second here; generous for a loaded machine
