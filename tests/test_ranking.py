"""Ranking candidates: MiniLM relevance times fit, the repetition guard, and the threshold's place."""

from __future__ import annotations

import json

import pytest

from pipeline.config import Settings
from pipeline.providers.base import Candidate, Scene
from pipeline.ranking import (
    candidate_text,
    combine,
    fit,
    orientation,
    rank,
    recent_sources,
)

LANDSCAPE = (1920, 1080)
SHORTS = (1080, 1920)


@pytest.fixture(scope="module")
def embedder():
    from pipeline.trends.topics import Embedder

    return Embedder("cpu")


class Counting:
    """The real embedder, recording what each encode call was given."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def encode(self, texts):
        self.calls.append(list(texts))
        return self.inner.encode(texts)


def clip(source_id: str, text: str, width: int = 1920, height: int = 1080, duration: float | None = 12.0,
         provider: str = "pexels") -> Candidate:
    return Candidate(provider, source_id, "video", text, width, height, duration)


JAR = Scene(3, 10.0, 16.0, "section-2", "Some have learned to open screw-top jars from the inside.", "octopus jar")


def test_the_relevant_clip_outranks_the_irrelevant_one(embedder):
    ranked = rank(JAR, "octopus", [clip("1", "city traffic at night"), clip("2", "octopus opening a jar underwater")],
                  LANDSCAPE, embedder, set())
    assert [c.source_id for c, _ in ranked] == ["2", "1"]
    assert ranked[0][1] > 0.6 and ranked[1][1] < 0.2


def test_at_equal_relevance_the_clip_in_the_video_s_orientation_wins(embedder):
    text = "octopus opening a jar underwater"
    ranked = rank(JAR, "octopus", [clip("tall", text, 1080, 1920), clip("wide", text, 1920, 1080)], LANDSCAPE,
                  embedder, set())
    assert [c.source_id for c, _ in ranked] == ["wide", "tall"]
    shorts = rank(JAR, "octopus", [clip("wide", text, 1920, 1080), clip("tall", text, 1080, 1920)], SHORTS,
                  embedder, set())
    assert [c.source_id for c, _ in shorts] == ["tall", "wide"]


def test_a_clip_shorter_than_the_scene_is_penalised_and_an_image_never_is(embedder):
    text = "octopus opening a jar underwater"
    image = Candidate("pixabay", "img", "image", text, 1920, 1280)
    ranked = rank(JAR, "octopus", [clip("short", text, duration=2.0), clip("long", text, duration=20.0), image],
                  LANDSCAPE, embedder, set())
    scores = {c.source_id: s for c, s in ranked}
    assert scores["long"] == scores["img"] > scores["short"]


def test_used_candidates_are_left_out(embedder):
    candidates = [clip("1", "octopus opening a jar"), clip("2", "octopus in a jar"), clip("1", "same id, other source",
                                                                                        provider="pixabay")]
    ranked = rank(JAR, "octopus", candidates, LANDSCAPE, embedder, {("pexels", "1")})
    assert [(c.provider, c.source_id) for c, _ in ranked] == [("pexels", "2"), ("pixabay", "1")]
    assert rank(JAR, "octopus", candidates[:1], LANDSCAPE, embedder, {("pexels", "1")}) == []


def test_one_encode_per_ranking_over_distinct_texts(embedder):
    counting = Counting(embedder)
    same = "octopus, sea, ocean, underwater"  # stock APIs repeat tag lists
    rank(JAR, "octopus", [clip(str(i), same) for i in range(5)] + [clip("x", "a jar")], LANDSCAPE, counting, set())
    assert len(counting.calls) == 1
    texts = counting.calls[0]
    assert len(texts) == len(set(texts)) == 3  # the scene, the tag list once, "a jar"


@pytest.mark.parametrize("candidate, size, scene_s, expected", [
    (clip("a", "", 1920, 1080, 10.0), LANDSCAPE, 6.0, 1.0),
    (clip("a", "", 3840, 2160, 10.0), LANDSCAPE, 6.0, 1.0),  # larger: downscaled, no loss
    (clip("a", "", 1280, 720, 10.0), LANDSCAPE, 6.0, 0.5 + 0.25 / 1.5 + 0.25),
    (clip("a", "", 1920, 1080, 3.0), LANDSCAPE, 6.0, 0.5 + 0.25 + 0.125),
    (clip("a", "", 1080, 1920, 10.0), LANDSCAPE, 6.0, 0.0 + 0.25 * 1080 / 1920 + 0.25),
    (clip("a", "", 1080, 1080, 10.0), LANDSCAPE, 6.0, 0.25 + 0.25 * 1080 / 1920 + 0.25),
    (clip("a", "", 0, 0, None), LANDSCAPE, 6.0, 0.25 + 0.125 + 0.125),
    (Candidate("x", "i", "image", "", 1080, 1920), SHORTS, 6.0, 1.0),
])
def test_fit(candidate, size, scene_s, expected):
    assert fit(candidate, size, scene_s) == pytest.approx(expected)


def test_fit_only_ever_scales_relevance_down():
    assert combine(0.8, 1.0) == 0.8 and combine(0.8, 0.0) == 0.4 and combine(0.0, 1.0) == 0.0


@pytest.mark.parametrize("w, h, shape", [(1920, 1080, "landscape"), (1080, 1920, "portrait"), (1000, 1050, "square"),
                                         (0, 0, "unknown")])
def test_orientation(w, h, shape):
    assert orientation(w, h) == shape


def test_candidate_text_reads_slugs_and_tags():
    assert candidate_text(clip("1", "https://www.pexels.com/video/an-octopus-swimming-underwater-3046629/")) == \
        "an octopus swimming underwater"
    assert candidate_text(clip("1", "octopus, sea_life, 4k, ocean")) == "octopus, sea life, ocean"


# Realistic texts as the sources give them: alt texts and URL slugs (Pexels), tag lists (Pixabay),
# captions (a library). For each scene, footage of it, and footage of something else entirely.
REALISTIC = [
    (JAR, "octopus", ["octopus opening a jar underwater", "octopus inside a glass jar",
                      "https://www.pexels.com/video/an-octopus-crawling-on-the-sea-floor-3046629/"],
     ["city traffic at night", "woman working on a laptop in a cafe", "chef cooking pasta in a kitchen",
      "https://www.pexels.com/video/aerial-view-of-mountains-at-sunrise-1409899/"]),
    (Scene(0, 0, 5, "section-1", "Each arm can taste and touch what it holds.", "octopus arm"), "octopus",
     ["octopus tentacles close up", "octopus, tentacle, suckers, sea, animal", "octopus swimming in the ocean"],
     ["football match in a stadium", "business, meeting, office, people", "a cat sleeping on a sofa"]),
    (Scene(0, 0, 5, "section-3", "An octopus can match a rock, a coral or the sand in under a second.",
           "octopus coral"), "octopus",
     ["octopus camouflaged on a coral reef", "octopus changing colour on a rock", "octopus hiding in the sand"],
     ["fireworks over a city", "hands typing on a keyboard", "stock market chart on a screen"]),
    (Scene(0, 0, 5, "section-2", "The third pile is usually the biggest, and the least reliable.",
           "bee hive"), "bee",
     ["honey bees on a honeycomb", "beekeeper opening a hive", "bee, insect, flower, pollen, macro"],
     ["cars on a highway", "snowy forest in winter", "birthday cake with candles"]),
]


def test_the_default_threshold_sits_between_relevant_and_irrelevant_footage(embedder):
    threshold = Settings().visual_threshold
    for scene, subject, relevant, irrelevant in REALISTIC:
        pool = [clip(f"r{i}", t) for i, t in enumerate(relevant)] + [clip(f"x{i}", t) for i, t in enumerate(irrelevant)]
        scores = {c.source_id: s for c, s in rank(scene, subject, pool, LANDSCAPE, embedder, set())}
        low = min(v for k, v in scores.items() if k.startswith("r"))
        high = max(v for k, v in scores.items() if k.startswith("x"))
        assert high < threshold < low, (scene.query, scores)


def _job(cur, job_id: int, channel_id: int, scenes: list[tuple[str, str | None]], day: int) -> None:
    cur.execute("INSERT INTO jobs (id, channel_id, topic, duration_s, format, brief, created_at)"
                " VALUES (?, ?, 'octopus', 60, 'landscape', '{}', TIMESTAMP '2026-01-01' + to_days(?))",
                [job_id, channel_id, day])
    for idx, (provider, source_id) in enumerate(scenes):
        cur.execute("INSERT INTO job_scenes (job_id, idx, start_s, end_s, block, narration, query, provider, source_id,"
                    " kind, path, candidates) VALUES (?, ?, 0, 4, 'hook', 'x', 'octopus', ?, ?, 'video', 'p', ?)",
                    [job_id, idx, provider, source_id, json.dumps([])])


def test_recent_sources_reads_the_channel_s_last_videos(db):
    with db.write() as cur:
        cur.execute("INSERT INTO channels (id, name) VALUES (1, 'Octopus Facts'), (2, 'Other')")
        _job(cur, 1, 1, [("pexels", "old")], 1)
        _job(cur, 2, 1, [("pexels", "a"), ("slides", "section-1"), ("library", None)], 2)
        _job(cur, 3, 2, [("pexels", "other channel")], 3)
        _job(cur, 4, 1, [("pixabay", "b")], 4)
        _job(cur, 5, 1, [], 5)  # not planned yet: not one of the last videos
        _job(cur, 6, 1, [("pexels", "this job")], 6)
    assert recent_sources(db, 1, 2, exclude_job=6) == {("pexels", "a"), ("pixabay", "b")}
    assert recent_sources(db, 1, 2) == {("pexels", "this job"), ("pixabay", "b")}
    assert recent_sources(db, 1, 20, exclude_job=6) == {("pexels", "old"), ("pexels", "a"), ("pixabay", "b")}
    assert recent_sources(db, 1, 0) == set()
    assert recent_sources(db, 2, 5) == {("pexels", "other channel")}


# -- assigning candidates to scenes -----------------------------------------------------------------

def _scene(i: int, text: str) -> "Scene":
    from pipeline.providers.base import Scene
    return Scene(i, i * 5.0, i * 5.0 + 5.0, "section-1", text, "octopus")


def _cand(sid: str) -> "Candidate":
    from pipeline.providers.base import Candidate
    return Candidate("library", sid, "image", sid, 1920, 1080)


def test_each_candidate_goes_to_the_scene_it_matches_best_not_to_the_first_taker():
    from pipeline.visuals import assign

    arms, jar = _scene(0, "Octopuses have eight arms."), _scene(1, "They open jars.")
    jar_clip, arm_photo = _cand("jar"), _cand("arm")
    ranked = {0: [(jar_clip, 0.46), (arm_photo, 0.45)],  # greedy in order would give the jar to the arms scene
              1: [(jar_clip, 0.83), (arm_photo, 0.20)]}
    plan = assign([arms, jar], ranked, 0.35)
    assert plan[1][0][0] is jar_clip and plan[0][0][0] is arm_photo
    assert [c.source_id for c, _ in plan[0]] == ["arm"]  # the jar clip is another scene's: not a fallback here


def test_assignment_leaves_a_scene_without_a_good_candidate_for_the_next_source():
    from pipeline.visuals import assign

    a, b, c = _scene(0, "a"), _scene(1, "b"), _scene(2, "c")
    one = _cand("one")
    plan = assign([a, b, c], {0: [(one, 0.5)], 1: [(one, 0.9)], 2: [(one, 0.2)]}, 0.35)
    assert list(plan) == [1] and plan[1][0][0] is one  # one file, one scene: the best; the others step down
    assert assign([a], {0: []}, 0.35) == {}


def test_the_picker_fetches_by_the_assignment_and_falls_back_when_a_file_is_gone(tmp_path):
    from pipeline.providers.base import ProviderError
    from pipeline.visuals import Picker

    scenes = [_scene(0, "arms"), _scene(1, "jar")]
    scores = {(0, "jar"): 0.46, (0, "arm"): 0.45, (0, "spare"): 0.40, (1, "jar"): 0.83, (1, "arm"): 0.2,
              (1, "spare"): 0.1}

    class Source:
        fetched: list[str] = []

        def search(self, query, size, limit=15):
            return [_cand("jar"), _cand("arm"), _cand("spare")], []

        def fetch(self, candidate, cache):
            self.fetched.append(candidate.source_id)
            if candidate.source_id == "arm":
                raise ProviderError("gone", provider="library")
            return tmp_path / f"{candidate.source_id}.jpg", []

    def rank(scene, subject, found, size, used):
        out = [(c, scores[(scene.index, c.source_id)]) for c in found if (c.provider, c.source_id) not in used]
        return sorted(out, key=lambda cs: -cs[1])

    source = Source()
    picker = Picker([("library", source), ("slides", None)], {"section-1": tmp_path / "slide.png"}, (1920, 1080),
                    "octopus", rank, None, 0.35, set())
    arms, jar = picker.choose_all(scenes)
    assert jar.source_id == "jar" and arms.source_id == "spare"  # its own pick was gone: the next good one
    assert source.fetched == ["arm", "spare", "jar"]
