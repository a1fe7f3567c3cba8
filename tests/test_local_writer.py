import time

import pytest

from pipeline.config import MAX_OUTLINE_CHARS
from pipeline.fit import estimated_narration_s, fit_script, fits, framing
from pipeline.providers.base import Brief, BriefError
from pipeline.providers.local_writer import LocalWriter, keywords, parse_outline, topic_phrase
from pipeline.script import split_sentences

OUTLINE = """- Octopuses have around 500 million neurons
  - Two thirds of those neurons sit in the arms, not in the central brain.
  - Each arm can taste and touch what it holds.
- They solve puzzles in laboratories
  - Some have learned to open screw-top jars from the inside.
  - Others escape their tanks at night.
- They live short lives
  - Most species live only one or two years.
  - Mothers guard their eggs until they hatch, and then die.
"""

LONG_OUTLINE = "\n".join(
    f"- Point {i}\n  - The {i}th observation is stated in one plain sentence for the viewer.\n"
    f"  - A second supporting sentence about point {i} follows right after it."
    for i in range(1, 40)
)


def write(duration, **kw):
    return LocalWriter().write(Brief("Why octopuses are so smart", duration, words_per_minute=150, **kw))


@pytest.mark.parametrize("duration", [30, 60, 120, 300])
def test_script_is_sized_to_the_duration(duration):
    script, usage = write(duration, outline=LONG_OUTLINE)
    assert abs(script.word_count - script.target_words) / script.target_words < 0.12
    # the speaking time of the words plus pauses lands near the target
    assert 0.65 * duration < script.estimated_seconds < duration
    assert usage[0].unit == "words" and usage[0].quantity == script.word_count


def test_target_grows_with_duration_at_the_speaking_rate():
    short, _ = write(60)
    long, _ = write(600)
    assert 110 <= short.target_words <= 150  # 150 wpm minus the pauses
    assert long.target_words > 9 * short.target_words


def test_sixty_seconds_without_material_is_near_target():
    script, _ = write(60)
    assert abs(script.word_count - script.target_words) / script.target_words < 0.15
    assert len(script.sections) >= 2


def test_outline_is_the_substance_verbatim():
    script, _ = write(90, outline=OUTLINE)
    spoken = script.spoken_text
    for line in OUTLINE.splitlines():
        text = line.strip().lstrip("- ").strip()
        if line.startswith("  "):
            assert text in spoken, text
    assert [s.heading for s in script.sections][:3] == [
        "Octopuses have around 500 million neurons", "They solve puzzles in laboratories", "They live short lives"]
    assert script.sections[0].bullets[0].startswith("Two thirds of those neurons")


def test_invents_nothing_beyond_given_material_and_fixed_framing():
    """Every number in the script comes from the brief: the writer states no facts of its own."""
    script, _ = write(120, outline=OUTLINE)
    import re
    given_numbers = set(re.findall(r"\d+", OUTLINE))
    assert set(re.findall(r"\d+", script.spoken_text)) <= given_numbers
    bare, _ = write(120)
    assert re.findall(r"\d", bare.spoken_text) == []


def test_long_outline_is_trimmed_round_robin_so_every_section_speaks():
    script, _ = write(60, outline=LONG_OUTLINE)
    assert script.word_count <= script.target_words * 1.1
    # trimming keeps the first supporting sentence of the first points rather than dropping whole sections
    assert "The 1th observation" in script.spoken_text and "The 2th observation" in script.spoken_text


@pytest.mark.parametrize("outline, headings", [
    ("First paragraph about arms. It has two sentences.\n\nSecond paragraph about brains.",
     ["First paragraph about arms", "Second paragraph about brains"]),
    ("# Arms\nThey taste things.\n\n# Brains\nThey are distributed.", ["Arms", "Brains"]),
    ("- flat one\n- flat two\n- flat three", ["flat one", "flat two", "flat three"]),
    ("1. numbered one\n2. numbered two", ["numbered one", "numbered two"]),
    ("Arms:\nThey taste things.\n\nBrains:\nThey are distributed.", ["Arms", "Brains"]),
])
def test_outline_forms(outline, headings):
    assert [p.heading for p in parse_outline(outline)] == headings


def test_paragraph_outline_keeps_all_sentences():
    parts = parse_outline("First paragraph about arms. It has two sentences.\n\nSecond paragraph about brains.")
    assert parts[0].substance == ["First paragraph about arms.", "It has two sentences."]


def test_trending_titles_and_tags_feed_the_script():
    script, _ = write(60, related_titles=["Octopus escapes tank", "Octopus opens jar"], tags=["octopus", "cephalopod"])
    assert "Octopus escapes tank" in script.spoken_text
    assert "octopus" in script.tags and "cephalopod" in script.tags
    assert any("trending title: Octopus opens jar" == s for s in script.sources)


@pytest.mark.parametrize("topic", ["", "   ", "\n"])
def test_empty_topic_is_refused_with_what_to_do(topic):
    with pytest.raises(BriefError, match="topic is empty"):
        LocalWriter().write(Brief(topic, 60))


def test_shorts_titles_and_short_durations():
    script, _ = LocalWriter().write(Brief("Why octopuses are so smart", 20, format="shorts"))
    assert script.title.endswith("#Shorts")
    # padded from ~16 s (33 words) into the band with one framing sentence, so a few words over the old 40
    assert script.word_count <= 50 and fits(estimated_narration_s(script), 20)
    assert script.call_to_action == "Subscribe for more."


def test_metadata_fits_youtube_limits():
    script, _ = write(480, outline=LONG_OUTLINE, tags=["x" * 120] * 3 + [f"tag{i}" for i in range(50)])
    assert len(script.title) <= 100
    assert len(script.description) <= 5000
    assert sum(len(t) + 1 for t in script.tags) <= 500
    assert "synthetic voice" in script.description  # disclosure in the description too


def test_topic_phrase_lowercases_question_words_only():
    assert topic_phrase("Why octopuses are so smart") == "why octopuses are so smart"
    assert topic_phrase("NASA budgets explained") == "NASA budgets explained"
    assert topic_phrase("Octopus intelligence.") == "Octopus intelligence"


def test_every_sentence_is_speakable():
    script, _ = write(180, outline=OUTLINE)
    for block in script.blocks():
        for sentence in block.sentences:
            assert split_sentences(sentence) == [sentence]


def test_shortfall_and_trimming_are_reported():
    long_bare, _ = write(900)
    assert any("add an outline" in n for n in long_bare.notes)
    trimmed, _ = write(60, outline=LONG_OUTLINE)
    assert any("outline points left out" in n for n in trimmed.notes)
    fine, _ = write(60, outline=OUTLINE)
    assert fine.notes == []


# -- bounded inputs ----------------------------------------------------------------------------

BIG_OUTLINES = {
    "abbreviations": "e.g. a " * (MAX_OUTLINE_CHARS // 7),  # one 100,000-character paragraph of skipped boundaries
    "bullets": "".join(f"- Point {i}\n  - x. y e.g. z the {i}th detail is given here.\n" for i in range(2000)),
    "one line": "- " + "word, " * (MAX_OUTLINE_CHARS // 6 - 1),
    "dots": "." * (MAX_OUTLINE_CHARS - 1) + "x",
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("shape", BIG_OUTLINES)
@pytest.mark.parametrize("duration", [60, 600])
def test_an_outline_at_the_limit_is_written_promptly_and_still_sized(shape, duration):
    outline = BIG_OUTLINES[shape][:MAX_OUTLINE_CHARS]
    started = time.process_time()
    script, _ = write(duration, outline=outline)
    assert time.process_time() - started < 3.0
    if shape == "bullets":  # enough material to fill the video: it fills it
        assert fits(estimated_narration_s(script), duration)
    else:  # one sentence too long to say: left out, and the notes say why
        assert estimated_narration_s(script) <= duration * 1.15
        if shape != "dots":
            assert any("too long to say" in n for n in script.notes)


def test_an_outline_over_the_limit_is_refused_with_the_limit_and_what_to_do():
    with pytest.raises(BriefError, match=r"100,001 characters.*limit is 100,000.*split the material"):
        write(60, outline="x" * (MAX_OUTLINE_CHARS + 1))
    with pytest.raises(BriefError, match="keep it under 200"):
        LocalWriter().write(Brief("x" * 201, 60))


def test_keywords_rank_by_count_then_first_appearance_in_linear_time():
    assert keywords(["octopus arms brains", "brains arms", "arms"]) == ["arms", "brains", "octopus"]
    assert keywords(["zeta alpha", "alpha zeta"]) == ["zeta", "alpha"]  # a tie keeps the first seen first
    many = [" ".join(f"word{i}x" for i in range(100_000))]
    started = time.process_time()
    assert keywords(many, 3) == ["word0x", "word1x", "word2x"]
    assert time.process_time() - started < 1.0


@pytest.mark.parametrize("duration", [30, 60, 120, 300])
@pytest.mark.parametrize("outline", ["", OUTLINE, LONG_OUTLINE], ids=["bare", "outline", "long outline"])
def test_local_scripts_already_fit_so_fitting_them_again_changes_nothing(duration, outline):
    script, _ = write(duration, outline=outline)
    assert fits(estimated_narration_s(script), duration)
    assert fit_script(script, duration, framing("why octopuses are so smart")) is script
