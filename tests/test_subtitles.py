import pytest

from pipeline.media.subtitles import (ass_escape, ass_time, coverage, display_cues, layout_for, split_text, srt_time,
                                      write_ass, write_srt)
from pipeline.providers.base import Cue

LANDSCAPE = layout_for((1920, 1080))


@pytest.mark.parametrize("seconds, ass, srt", [
    (0, "0:00:00.00", "00:00:00,000"),
    (61.237, "0:01:01.24", "00:01:01,237"),
    (3725.5, "1:02:05.50", "01:02:05,500"),
])
def test_time_formats(seconds, ass, srt):
    assert ass_time(seconds) == ass
    assert srt_time(seconds) == srt


def test_split_text_respects_the_line_length():
    lines = split_text("one two three four five six seven eight nine ten eleven twelve", 14)
    assert all(len(l) <= 14 for l in lines)
    assert " ".join(lines) == "one two three four five six seven eight nine ten eleven twelve"


def test_short_sentence_is_one_cue_with_its_exact_span():
    cues = [Cue(1.25, 3.5, "Octopuses have three hearts.", "section-1")]
    assert display_cues(cues, LANDSCAPE) == [(1.25, 3.5, ["Octopuses have three hearts."])]


def test_long_sentence_splits_into_screens_sharing_its_span():
    text = " ".join(f"word{i}" for i in range(40))  # ~270 characters: several screens
    cue = Cue(10.0, 22.0, text, "section-1")
    shown = display_cues([cue], LANDSCAPE)
    assert len(shown) >= 3
    assert shown[0][0] == 10.0 and shown[-1][1] == 22.0
    for (s1, e1, _), (s2, _, _) in zip(shown, shown[1:]):
        assert e1 == pytest.approx(s2)  # contiguous, no gap, no overlap
    assert all(len(lines) <= LANDSCAPE.max_lines for _, _, lines in shown)
    assert " ".join(" ".join(l) for _, _, l in shown) == text
    # time is shared in proportion to characters
    durations = [e - s for s, e, _ in shown]
    chars = [len(" ".join(l)) for _, _, l in shown]
    assert durations[0] / durations[-1] == pytest.approx(chars[0] / chars[-1], rel=1e-6)


def test_shorts_use_narrower_lines():
    shorts = layout_for((1080, 1920))
    assert shorts.chars_per_line < LANDSCAPE.chars_per_line
    assert shorts.margin_v > LANDSCAPE.margin_v


def test_ass_file_escapes_override_characters(tmp_path):
    cues = [Cue(0.5, 2.0, "Use {braces} and a back\\slash.", "hook"), Cue(2.3, 4.0, "Second line.", "hook")]
    text = write_ass(cues, (1920, 1080), tmp_path / "s.ass").read_text()
    assert "PlayResX: 1920" in text and "PlayResY: 1080" in text
    events = [l for l in text.splitlines() if l.startswith("Dialogue:")]
    assert len(events) == 2
    assert "{" not in events[0] and "(braces)" in events[0]
    assert events[1].startswith("Dialogue: 0,0:00:02.30,0:00:04.00,Default")
    assert ass_escape("a\\b") != "a\\b"


def test_srt_numbering_and_timing(tmp_path):
    cues = [Cue(0.5, 2.0, "First.", "hook"), Cue(2.3, 4.0, "Second.", "hook")]
    text = write_srt(cues, (1920, 1080), tmp_path / "s.srt").read_text()
    assert text.startswith("1\n00:00:00,500 --> 00:00:02,000\nFirst.\n")
    assert "2\n00:00:02,300 --> 00:00:04,000\nSecond.\n" in text


def test_coverage_counts_spoken_time_with_a_subtitle():
    cues = [Cue(0, 2, "a", "hook"), Cue(3, 5, "b", "hook")]
    assert coverage(cues, display_cues(cues, LANDSCAPE)) == 1.0
    assert coverage(cues, [(0, 2, ["a"])]) == 0.5
    assert coverage([], []) == 0.0
