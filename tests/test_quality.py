from pathlib import Path

import pytest
from PIL import Image

from pipeline import quality
from pipeline.media.ffmpeg import AudioStats, StreamInfo
from pipeline.providers.base import Brief
from pipeline.providers.local_writer import LocalWriter, shared_embedder
from pipeline.script import Script, Section
from pipeline.sources import SourceDoc, load_sources

GOOD = StreamInfo(duration_s=60, video_codec="h264", width=1920, height=1080, audio_codec="aac", faststart=True)


@pytest.mark.parametrize("actual, score", [(60, 1.0), (54, 1.0), (66, 1.0), (48, 0.6667), (75, 0.5), (30, 0.0), (90, 0.0)])
def test_duration_ramp(actual, score):
    assert quality.check_duration(actual, 60).score == pytest.approx(score, abs=1e-3)


def test_silent_or_missing_audio_fails():
    assert quality.check_audio(StreamInfo(audio_codec=None), AudioStats(-91, -91, 0, 60)).score == 0
    assert quality.check_audio(GOOD, AudioStats(-91, -91, 60, 60)).score == 0
    assert quality.check_audio(GOOD, AudioStats(-20, -3, 2, 60)).score == 1
    half_silent = quality.check_audio(GOOD, AudioStats(-25, -3, 15, 60))
    assert 0 < half_silent.score < 1 and "25% of the video is silence" in half_silent.message


def test_format_check_names_each_problem():
    bad = StreamInfo(duration_s=60, video_codec="hevc", width=1280, height=720, audio_codec="mp3", faststart=False)
    check = quality.check_format(bad, (1920, 1080))
    assert check.score == 0
    for part in ("1280x720 instead of 1920x1080", "hevc", "mp3", "faststart"):
        assert part in check.message
    assert quality.check_format(GOOD, (1920, 1080)).score == 1


def test_script_check_rewards_length_and_plain_words():
    plain = Script("T", "Hi there.", [Section("A", ["The cat sat on the mat."] * 10)], "Bye now.", "", [], 66, 150)
    assert quality.check_script(plain).score == 1
    dense = Script("T", "Hi.", [Section("A", ["Incomprehensible multidimensional epistemological considerations proliferate."] * 3)],
                   "Bye.", "", [], 200, 150)
    check = quality.check_script(dense)
    assert check.score < 0.5 and "reading ease" in check.message


def test_thumbnail_check(tmp_path):
    good = tmp_path / "t.jpg"
    Image.new("RGB", (1280, 720), "red").save(good, "JPEG")
    assert quality.check_thumbnail(good).score == 1
    small = tmp_path / "s.png"
    Image.new("RGB", (640, 360), "red").save(small, "PNG")
    check = quality.check_thumbnail(small)
    assert check.score == 0 and "640x360" in check.message and "PNG" in check.message
    assert quality.check_thumbnail(None).score == 0


def test_score_is_the_weighted_mean_and_gates_at_the_threshold():
    checks = [quality.Check("a", 1.0, 30, "", "", ""), quality.Check("b", 0.0, 10, "", "", "")]
    report = quality.evaluate(checks, 70)
    assert report.score == 75.0 and report.passed
    assert not quality.evaluate(checks, 80).passed
    detail = report.to_dict()
    assert detail["checks"][1]["passed"] is False and detail["threshold"] == 70


# -- substance, repetition, traceability ---------------------------------------------------------

TOPIC = "Why octopuses are so smart"
ARTICLE = Path(__file__).parent / "fixtures" / "article.html"

LLM_STYLE = Script(
    "Why Octopuses Are So Smart",
    "Octopuses solve puzzles that stump many other animals. Their intelligence grew along a path very unlike ours.",
    [Section("A brain in every arm", [
        "A common octopus has about five hundred million neurons.",
        "Around two thirds of those neurons sit in the arms rather than the head.",
        "Each arm can taste what it touches through receptors in its suckers."]),
     Section("Clever escapes", [
         "In aquariums, octopuses have unscrewed jar lids to reach crabs inside.",
         "Keepers report animals slipping out of tanks through gaps barely wider than their beaks.",
         "The veined octopus carries coconut shells and assembles them into a shelter."]),
     Section("Short lives", [
         "Most octopuses live only one or two years.",
         "Females guard their eggs without eating and die soon after they hatch."])],
    "Subscribe for more.", "", [], 110, 150)


@pytest.fixture
def technical(tmp_path):
    """The technical checks, all perfect: what a well-rendered video scores besides its script."""
    thumb = tmp_path / "t.jpg"
    Image.new("RGB", (1280, 720), "red").save(thumb, "JPEG")

    def checks(script):
        return [quality.check_duration(60, 60), quality.check_audio(GOOD, AudioStats(-20, -3, 2, 60)),
                quality.check_subtitles(1.0), quality.check_format(GOOD, (1920, 1080)), quality.check_script(script),
                quality.check_thumbnail(thumb)]
    return checks


def judged(technical, script, topic, docs=()):
    checks = technical(script) + [quality.check_substance(script, topic), quality.check_repetition(script),
                                  quality.check_traceable(script, list(docs))]
    return quality.evaluate(checks, 70)


@pytest.mark.parametrize("duration", [20, 60, 300])
def test_a_script_that_only_frames_the_question_is_held(technical, duration):
    script, _ = LocalWriter().write(Brief(TOPIC, duration))
    substance = quality.check_substance(script, TOPIC)
    assert substance.score == 0 and "add an outline or sources, or use an LLM writer" in substance.message
    report = judged(technical, script, TOPIC)
    assert not report.passed and report.score < 66


def test_a_script_from_a_source_article_passes(technical):
    docs = load_sources([str(ARTICLE)])
    script, _ = LocalWriter(shared_embedder()).write(Brief("How honeybees communicate", 60, sources=docs))
    report = judged(technical, script, "How honeybees communicate", docs)
    by_name = {c.name: c for c in report.checks}
    assert by_name["substance"].score == 1 and by_name["traceable"].score == 1 and by_name["traceable"].weight > 0
    assert report.passed and report.score >= 95


def test_a_substantive_llm_style_script_without_sources_passes(technical):
    report = judged(technical, LLM_STYLE, TOPIC)
    by_name = {c.name: c for c in report.checks}
    assert by_name["substance"].score == 1 and by_name["repetition"].score == 1
    assert by_name["traceable"].weight == 0  # nothing cited, nothing to trace
    assert report.passed and report.score >= 95


def test_a_repetitive_script_loses_points(technical):
    said = LLM_STYLE.sections[0].sentences
    repetitive = Script(LLM_STYLE.title, LLM_STYLE.hook, [
        *LLM_STYLE.sections,
        Section("Once more", [said[0], "Around two thirds of those neurons sit in the arms, not in the head.",
                              said[2].replace("Each arm", "Every arm")])], "Subscribe for more.", "", [], 140, 150)
    check = quality.check_repetition(repetitive)
    assert check.score < 0.5 and "3 sentences repeat an earlier one" in check.message
    assert judged(technical, repetitive, TOPIC).score < judged(technical, LLM_STYLE, TOPIC).score
    assert quality.near_duplicates(["Octopuses are smart.", "Start with the question: why octopuses are smart, "
                                    "and what that would even mean for an animal."]) == []  # quoting the topic is fine


def test_traceable_checks_each_cited_sentence_against_its_source():
    doc = SourceDoc("S1", "Notes", "text", "", "The common octopus (Octopus vulgaris) has about five hundred million "
                    "neurons. However, most octopuses live only one or two years.")
    def script(sentences):
        return Script("T", "Octopuses.", [Section("A", sentences, cites=["S1"] * len(sentences))], "Bye.", "", [],
                      30, 150, references=[doc.reference()])
    trimmed = script(["The common octopus has about five hundred million neurons.",
                      "Most octopuses live only one or two years."])
    assert quality.check_traceable(trimmed, [doc]).score == 1
    assert quality.check_traceable(trimmed, [doc.to_dict()]).score == 1  # as stored in the job folder
    invented = script(["The common octopus has about five hundred million neurons.",
                       "Octopuses dream in colour and remember their parents."])
    check = quality.check_traceable(invented, [doc])
    assert check.score == 0 and "1 of 2 sentences are not found" in check.message
    assert quality.check_traceable(trimmed, []).score == 0  # the sources must be given to the check


def test_framing_is_told_from_content():
    for framing in ("Next: the waggle dance.", "What would it look like if the popular answer were wrong?",
                    "Let's take it apart, one piece at a time.", "Why octopuses are so smart."):
        assert quality.is_framing(framing, TOPIC), framing
    for content in ("Octopuses have three hearts.", "A common octopus has about 500 million neurons."):
        assert not quality.is_framing(content, TOPIC), content
