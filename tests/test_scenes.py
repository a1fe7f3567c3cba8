"""The scene plan: whole sentences, 2-8 s, no gaps, one block each; the subject; the visual queries."""

from __future__ import annotations

import itertools
import random

import pytest

from pipeline.fit import framing
from pipeline.providers.base import Cue, Scene
from pipeline.scenes import (
    MiniLMKeywords,
    PlainKeywords,
    candidates,
    clean_query,
    plan_scenes,
    singular,
    subject_of,
    visual_queries,
)

PAUSE = 0.35


def timed(spec: list[tuple[float, str]], lead: float = 0.3, tail: float = 0.7) -> tuple[list[Cue], float]:
    """Cues for (seconds spoken, block) pairs, with the voice's pauses between them; and the duration."""
    t, cues = lead, []
    for i, (seconds, block) in enumerate(spec):
        if i and block != spec[i - 1][1]:
            t += 0.45  # the longer pause between blocks
        cues.append(Cue(round(t, 3), round(t + seconds, 3), f"Sentence {i}.", block))
        t += seconds + PAUSE
    return cues, round(t - PAUSE + tail, 3)


def check_plan(scenes: list[Scene], cues: list[Cue], duration: float) -> None:
    """The invariants every plan keeps, whatever the sentences."""
    assert scenes[0].start == 0 and scenes[-1].end == pytest.approx(duration)
    assert [s.index for s in scenes] == list(range(len(scenes)))
    for a, b in itertools.pairwise(scenes):
        assert a.end == b.start  # no gaps, no overlaps
    assert all(s.end > s.start for s in scenes)
    # Whole sentences, in order, each in exactly one scene, and a scene holds one block's sentences.
    said = iter(cues)
    for scene in scenes:
        inside = [c for c in cues if scene.start <= c.start < scene.end]
        assert inside, scene
        assert scene.text == " ".join(next(said).text for _ in inside)
        assert {c.block for c in inside} == {scene.block}
    assert next(said, None) is None


def test_sentences_of_a_few_seconds_pair_up_into_scenes_within_the_bounds():
    cues, duration = timed([(2.4, "hook"), (2.6, "hook"), (2.2, "hook"), (2.8, "hook")])
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert [s.text for s in scenes] == ["Sentence 0. Sentence 1.", "Sentence 2. Sentence 3."]
    assert all(2.0 <= s.duration_s <= 8.0 for s in scenes)


def test_a_sentence_longer_than_the_maximum_is_its_own_scene():
    cues, duration = timed([(3.0, "section-1"), (12.5, "section-1"), (3.0, "section-1")])
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert [s.text for s in scenes] == ["Sentence 0.", "Sentence 1.", "Sentence 2."]
    assert scenes[1].duration_s > 12.5


def test_one_word_sentences_merge_with_their_neighbours():
    cues, duration = timed([(0.4, "section-1")] * 12)
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert len(scenes) < 6 and all(2.0 <= s.duration_s <= 8.0 for s in scenes)


def test_a_very_short_sentence_joins_a_neighbour_even_between_two_long_ones():
    cues, duration = timed([(7.4, "section-1"), (0.5, "section-1"), (7.4, "section-1")])
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert len(scenes) == 2 and min(s.duration_s for s in scenes) > 7  # no 1-second flash


def test_a_short_sentence_after_a_very_long_one_joins_it():
    cues, duration = timed([(14.0, "section-1"), (0.4, "section-1")])
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert len(scenes) == 1


def test_a_scene_never_spans_two_blocks_even_when_a_block_is_shorter_than_the_minimum():
    cues, duration = timed([(0.6, "hook"), (3.0, "section-1"), (2.5, "section-1"), (1.1, "cta")])
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert [s.block for s in scenes] == ["hook", "section-1", "cta"]
    assert scenes[0].duration_s < 2.0  # the block is that short; crossing into the next section would be worse


def test_two_sentences_that_could_each_stand_alone_are_not_merged_past_the_maximum():
    cues, duration = timed([(5.0, "section-1"), (5.0, "section-1")])
    assert len(plan_scenes(cues, duration)) == 2


def test_the_pauses_and_the_lead_in_belong_to_scenes():
    cues = [Cue(0.6, 2.9, "One.", "hook"), Cue(4.1, 6.0, "Two.", "hook"), Cue(7.5, 9.8, "Three.", "section-1")]
    scenes = plan_scenes(cues, 11.0)
    assert [(s.start, s.end) for s in scenes] == [(0.0, 4.1), (4.1, 7.5), (7.5, 11.0)]


def test_a_ten_second_video():
    cues, duration = timed([(2.5, "hook"), (1.2, "section-1"), (2.0, "section-1"), (1.4, "cta")])
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert duration < 10.5 and len(scenes) == 3


def test_a_thirty_minute_video_keeps_the_bounds_wherever_the_sentences_allow():
    rng = random.Random(7)
    spec, block = [], 0
    while sum(s for s, _ in spec) < 1750:
        for _ in range(rng.randint(4, 14)):
            spec.append((rng.choice([0.4, 1.0, 1.8, 2.6, 3.5, 4.5, 6.0, 9.5]), f"section-{block}"))
        block += 1
    cues, duration = timed(spec)
    scenes = plan_scenes(cues, duration)
    check_plan(scenes, cues, duration)
    assert duration > 1800 and len(scenes) > 300
    for scene in scenes:
        said = [c for c in cues if scene.start <= c.start < scene.end]
        block_s = sum(s.duration_s for s in scenes if s.block == scene.block)
        if scene.duration_s < 2.0:
            assert block_s < 4.0  # only where the whole block is too short to do better
        if scene.duration_s > 8.0 and len(said) > 1:
            longest = max(c.end - c.start for c in said)
            shortest = min(c.end - c.start for c in said)
            assert longest > 6 or shortest < 1.2  # a short sentence had nowhere else to go


def test_cues_out_of_order_or_overlapping_still_tile_the_narration():
    cues = [Cue(3.0, 5.0, "Two.", "hook"), Cue(0.2, 3.1, "One.", "hook"), Cue(5.2, 8.0, "Three.", "hook")]
    scenes = plan_scenes(cues, 7.5)  # a duration a little short of the last cue's end
    assert scenes[0].start == 0 and scenes[-1].end == 8.0
    assert " ".join(s.text for s in scenes) == "One. Two. Three."


def test_no_cues_is_a_clear_error():
    with pytest.raises(ValueError, match="no cues"):
        plan_scenes([], 10.0)


@pytest.mark.parametrize("topic, tags, subject", [
    ("Why octopuses are so smart", ["why octopuses are so smart", "octopuses", "smart"], "octopus"),
    ("How black holes form", [], "black hole"),
    ("The history of the Roman Empire", [], "roman empire"),
    ("10 facts about sharks", [], "shark"),
    ("What happens inside a volcano", [], "volcano"),
    ("How bees make honey", ["bees", "honey", "beekeeping"], "bee"),
    ("Is coffee bad for you", [], "coffee"),
    ("Giant Pacific octopus facts", [], "octopus"),
    ("Octopus arms", [], "octopus arm"),
    ("Why do we dream", ["dreams", "sleep"], "dream"),
])
def test_subject_of(topic, tags, subject):
    assert subject_of(topic, topic.title(), tags) == subject


def test_subject_of_falls_back_to_the_title_and_then_to_nothing():
    assert subject_of("Why is it so?", "Jellyfish without brains", []) == "jellyfish"
    assert subject_of("???", "", []) == ""


@pytest.mark.parametrize("word, one", [("octopuses", "octopus"), ("jars", "jar"), ("berries", "berry"),
                                       ("boxes", "box"), ("species", "species"), ("glass", "glass"),
                                       ("leaves", "leaf"), ("arms", "arm"), ("volcanoes", "volcano")])
def test_singular(word, one):
    assert singular(word) == one


def test_candidates_are_concrete_words_and_pairs():
    assert candidates("Some have learned to open screw-top jars from the inside.") == \
        ["screw", "screw top", "top", "top jar", "jar"]
    assert candidates("Ask what kind of observation would change your mind.") == []
    assert "escape" not in candidates("In aquariums, they escape their tanks at night.")
    # Punctuation ends a phrase: no "neuron octopus" across two sentences.
    assert "neuron octopus" not in candidates("They have neurons. Octopuses are smart.")


def test_clean_query():
    assert clean_query("Octopus, opening a JAR!! 2024 underwater") == "octopus opening a"
    assert clean_query("  ") == ""


def _octopus_scenes() -> tuple[list[Scene], dict[str, str]]:
    blocks = [("hook", "Why Octopuses Are so Smart", ["Why octopuses are so smart?"]),
              ("section-1", "They solve puzzles in laboratories",
               ["Some have learned to open screw-top jars from the inside.", "Ask yourself why.",
                "In aquariums, they escape their tanks at night."]),
              ("section-2", framing("why octopuses are so smart")[1].heading,
               ["Ask what kind of observation would change your mind."]),
              ("section-3", "Tools and shelters", ["Veined octopuses carry coconut shells across the sea floor.",
                                                   "Each arm can taste and touch what it holds."])]
    scenes, t = [], 0.0
    for key, _, sentences in blocks:
        for sentence in sentences:
            scenes.append(Scene(len(scenes), t, t + 4.0, key, sentence))
            t += 4.0
    return scenes, {key: heading for key, heading, _ in blocks}


@pytest.fixture(scope="module")
def embedder():
    from pipeline.trends.topics import Embedder

    return Embedder("cpu")


def test_queries_keep_the_subject_and_name_something_filmable(embedder):
    scenes, headings = _octopus_scenes()
    planned = visual_queries(scenes, "octopus", None, MiniLMKeywords(embedder), headings)
    queries = [s.query for s in planned]
    assert all(1 <= len(q.split()) <= 3 and "octopus" in q for q in queries), queries
    assert queries[1] == "octopus jar"
    assert queries[3] == "octopus aquarium"
    assert "coconut" in queries[5] and queries[6] == "octopus arm"
    # Framing with nothing to film: the block's heading ("laboratories"), else the nearest scene.
    assert queries[2] == "octopus laboratory"
    assert queries[4] in {queries[3], queries[5]}
    assert queries[0] == queries[1]  # the hook's heading is the title: the next scene lends its word
    assert [s.text for s in planned] == [s.text for s in scenes]  # only the query is set
    assert visual_queries(scenes, "octopus", None, MiniLMKeywords(embedder), headings) == planned  # deterministic


def test_queries_the_writer_gave_are_used_as_given(embedder):
    scenes, headings = _octopus_scenes()
    planned = visual_queries(scenes, "octopus", {1: "Octopus escaping a JAR, underwater", 2: "  "},
                             MiniLMKeywords(embedder), headings)
    assert planned[1].query == "octopus escaping a"
    assert planned[2].query == "octopus laboratory"  # an empty one is extracted as usual


def test_queries_without_the_model_still_name_things():
    scenes, headings = _octopus_scenes()
    queries = [s.query for s in visual_queries(scenes, "octopus", None, PlainKeywords(), headings)]
    assert queries[1] == "octopus jar" and all("octopus" in q for q in queries)


def test_a_two_word_subject_leaves_room_for_one_word():
    scene = Scene(0, 0.0, 4.0, "section-1", "The event horizon bends light from distant stars.")
    query = visual_queries([scene], "black hole", None, PlainKeywords())[0].query
    assert query.startswith("black hole ") and len(query.split()) == 3


def test_a_keyword_holding_part_of_the_subject_gets_the_rest():
    scene = Scene(0, 0.0, 4.0, "section-1", "A hole animation.")

    class Fixed:
        def keywords(self, texts, top_n=5):
            return [["hole animation"]] + [[] for _ in texts[1:]]

    assert visual_queries([scene], "black hole", None, Fixed())[0].query == "black hole animation"
