"""The scenes and visuals stages end to end against the loopback Pexels, Pixabay and OpenAI-image fakes and a
real media library: chain fallback (no result, low score, 401, 429), the repetition guard, cache reuse, generated
images under the cap, keys kept out of logs and the database, the operator's swap, and a real make."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from conftest import EXAMPLE_SOURCE, ROOT
from fakes_media import FakeOpenAIImages, FakePexels
from pipeline import jobs, scene_stages
from pipeline.channels import ChannelInput, create_channel
from pipeline.config import ConfigError, Settings
from pipeline.providers.base import Brief
from pipeline.providers.local_writer import LocalWriter
from pipeline.stages import StageSpec
from pipeline.workbench import Workbench

OUTLINE = """- Octopuses have eight flexible arms
  - Each arm can taste what it touches.
- They open jars to reach food
  - In aquariums some octopuses unscrew lids from the inside.
- They hide with camouflage
  - Their skin changes colour in a fraction of a second.
"""


def bench(tmp_path: Path, **settings) -> Workbench:
    wb = Workbench(Settings(data_dir=tmp_path / "data", retry_base_s=0.01, provider_retries=1, **settings),
                   start_worker=False)
    wb.worker.pipeline = (StageSpec("scenes", scene_stages.plan), StageSpec("visuals", scene_stages.choose))
    return wb


def staged_job(wb: Workbench, topic: str = "Why octopuses are so smart", channel: int = 1, visuals: str | None = None,
               fmt: str = "landscape", duration: int = 40, cap_usd: float | None = None, outline: str = OUTLINE,
               stages: tuple[str, ...] = ("scenes", "visuals")) -> int:
    """A job whose script and (made-up) voice timings exist, so only the scenes and visuals stages run."""
    brief = {"outline": outline, "cap_usd": cap_usd if cap_usd is not None else wb.settings.cap_usd}
    if visuals:
        brief["visuals"] = visuals
    job = jobs.create_job(wb.db, channel, topic, duration, fmt, brief, stages=stages)
    folder = wb.settings.jobs_dir / str(job)
    folder.mkdir(parents=True, exist_ok=True)
    script, _ = LocalWriter().write(Brief(topic, duration, fmt, outline=outline))
    script_path = script.save(folder / "script.json")
    cues, t = [], 0.4
    for block in script.blocks():
        for sentence in block.sentences:
            length = 0.4 * len(sentence.split())
            cues.append({"start": round(t, 3), "end": round(t + length, 3), "text": sentence, "block": block.key})
            t += length + 0.3
    timings = folder / "timings.json"
    timings.write_text(json.dumps({"duration_s": round(t + 0.5, 3), "sample_rate": 22050, "cues": cues}))
    with wb.db.write() as cur:
        for kind, path in (("script", script_path), ("timings", timings)):
            cur.execute("INSERT INTO artifacts (job_id, stage, kind, path, bytes) VALUES (?, 'voice', ?, ?, 1)",
                        [job, kind, str(path)])
    return job


def scenes_of(wb: Workbench, job: int) -> list[dict]:
    return wb.db.query_dicts("SELECT * FROM job_scenes WHERE job_id = ? ORDER BY idx", [job])


def fallbacks_of(wb: Workbench, job: int) -> list[tuple]:
    return wb.db.query("SELECT from_provider, reason FROM fallbacks WHERE job_id = ? ORDER BY id", [job])


def with_pexels(tmp_path, fake, **kw) -> Workbench:
    return bench(tmp_path, pexels_api_key=fake.key, pexels_api_root=fake.url + "/", **kw)


def test_scenes_get_footage_ranked_and_recorded_and_the_rest_slides(tmp_path, pexels):
    wb = with_pexels(tmp_path, pexels)
    try:
        job = staged_job(wb, visuals="pexels > slides")
        assert wb.worker.run_job(job) == "done"
        rows = scenes_of(wb, job)
        assert len(rows) >= 5 and rows[0]["start_s"] == 0
        assert all(a["end_s"] == b["start_s"] for a, b in zip(rows, rows[1:]))  # the whole narration, no gaps
        footage = [r for r in rows if r["provider"] == "pexels"]
        assert footage and all(r["score"] >= wb.settings.visual_threshold for r in footage)
        assert all("octopus" in r["query"] for r in rows)  # the subject stays in view
        assert all(r["source_url"].startswith("https://www.pexels.com/") and r["author"] for r in footage)
        assert len({r["source_id"] for r in footage}) == len(footage)  # never the same clip twice in a video
        assert {r["provider"] for r in rows} <= {"pexels", "slides"}
        saved = json.loads((wb.settings.jobs_dir / str(job) / "scenes.json").read_text())
        assert [s["idx"] for s in saved["scenes"]] == [r["idx"] for r in rows] and saved["subject"] == "octopus"
        assert all(Path(s["still"]).is_file() for s in saved["scenes"])  # what the Library shows
        assert all(Path(r["path"]).is_file() for r in rows)
        assert json.loads(rows[0]["candidates"])  # the ranked alternatives, for a swap
    finally:
        wb.close()


def test_the_repetition_guard_and_the_cache_across_videos(tmp_path, pexels):
    wb = with_pexels(tmp_path, pexels)
    try:
        first = staged_job(wb, visuals="pexels > slides")
        assert wb.worker.run_job(first) == "done"
        used = {(r["provider"], r["source_id"]) for r in scenes_of(wb, first) if r["provider"] == "pexels"}
        downloads = sum(pexels.downloads.values())
        second = staged_job(wb, visuals="pexels > slides")  # the same channel: its last videos' clips are out
        assert wb.worker.run_job(second) == "done"
        again = {(r["provider"], r["source_id"]) for r in scenes_of(wb, second) if r["provider"] == "pexels"}
        assert used and not (used & again)
        other = create_channel(wb.db, ChannelInput("Other Channel"))
        third = staged_job(wb, channel=other, visuals="pexels > slides")  # another channel may use them
        assert wb.worker.run_job(third) == "done"
        assert {(r["provider"], r["source_id"]) for r in scenes_of(wb, third) if r["provider"] == "pexels"} == used
        assert sum(pexels.downloads.values()) == downloads  # the cache: nothing downloaded twice
        wb.settings.repeat_window = 0
        fourth = staged_job(wb, visuals="pexels > slides")
        assert wb.worker.run_job(fourth) == "done"
        assert {(r["provider"], r["source_id"]) for r in scenes_of(wb, fourth) if r["provider"] == "pexels"} == used
    finally:
        wb.close()


@pytest.mark.parametrize("behaviour, reason", [("401", "key was rejected"), ("429", "429"), ("empty", None)])
def test_the_chain_steps_down_on_a_rejected_key_a_rate_limit_and_no_result(tmp_path, pexels, pixabay,
                                                                         behaviour, reason):
    wb = bench(tmp_path, pexels_api_key=pexels.key, pexels_api_root=pexels.url + "/",
               pixabay_api_key=pixabay.key, pixabay_api_root=pixabay.root)
    try:
        pexels.reset_in = 3600  # a rate limit that does not lift within the video
        pexels.queue(*[behaviour] * 200)
        job = staged_job(wb, visuals="pexels > pixabay > slides")
        assert wb.worker.run_job(job) == "done"
        rows = scenes_of(wb, job)
        assert not [r for r in rows if r["provider"] == "pexels"]
        assert [r for r in rows if r["provider"] == "pixabay"]  # the next source served them
        notes = fallbacks_of(wb, job)
        if reason:
            assert any(src == "pexels" and reason in why for src, why in notes), notes
            assert len([n for n in notes if n[0] == "pexels"]) == 1  # out once, for the whole video
    finally:
        wb.close()


def test_below_the_threshold_the_next_source_is_tried(tmp_path, pexels):
    wb = with_pexels(tmp_path, pexels)
    try:
        job = staged_job(wb, topic="How to file your taxes on time", visuals="pexels > slides",
                         outline="- Gather your receipts and forms\n- Fill in the tax return\n- Pay before the deadline\n")
        assert wb.worker.run_job(job) == "done"
        rows = scenes_of(wb, job)
        assert {r["provider"] for r in rows} == {"slides"}  # octopus and reef footage does not fit taxes
        assert json.loads(rows[0]["candidates"])  # they were looked at, and scored low
        assert max(c["score"] for c in json.loads(rows[0]["candidates"])) < wb.settings.visual_threshold
    finally:
        wb.close()


def test_generated_images_are_ledgered_and_held_under_the_cap(tmp_path, media):
    with FakeOpenAIImages(media) as fake:
        wb = bench(tmp_path, openai_api_key=fake.key, openai_base_url=fake.url + "/v1")
        try:
            job = staged_job(wb, visuals="openai-image > slides", cap_usd=0.13)  # room for two at $0.063
            assert wb.worker.run_job(job) == "done"
            rows = scenes_of(wb, job)
            made = [r for r in rows if r["provider"] == "openai-image"]
            assert len(made) == 2 and len(rows) > 2
            spent = wb.db.query_one("SELECT sum(usd) FROM cost_ledger WHERE job_id = ? AND provider = 'openai'", [job])[0]
            assert 0.126 <= float(spent) <= 0.13
            assert any(src == "openai-image" and "budget" in why for src, why in fallbacks_of(wb, job))
            assert wb.db.query_one("SELECT count(*) FROM budget_holds")[0] == 0
        finally:
            wb.close()


def test_the_pixabay_key_never_reaches_logs_the_database_or_snapshots(tmp_path, pixabay, caplog):
    caplog.set_level("DEBUG")
    wb = bench(tmp_path, pixabay_api_key=pixabay.key, pixabay_api_root=pixabay.root)
    try:
        job = staged_job(wb, visuals="pixabay > slides")
        assert wb.worker.run_job(job) == "done"
        assert [r for r in scenes_of(wb, job) if r["provider"] == "pixabay"]
        wb.snapshots.refresh(force=True)
    finally:
        wb.close()
    key = pixabay.key.encode()
    assert pixabay.key not in caplog.text
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert key not in path.read_bytes(), path


def make_library(folder: Path) -> None:
    folder.mkdir(parents=True)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=10:duration=6",
                    "-pix_fmt", "yuv420p", str(folder / "octopus-opening-a-jar.mp4")], check=True, timeout=120)
    Image.new("RGB", (1920, 1080), (200, 60, 40)).save(folder / "octopus-camouflage-on-a-rock.jpg")
    Image.new("RGB", (1920, 1080), (20, 20, 20)).save(folder / "city-traffic-at-night.jpg")


def test_the_offline_default_uses_the_library_where_it_matches_and_slides_elsewhere(tmp_path, monkeypatch):
    import socket
    make_library(tmp_path / "mine")
    wb = bench(tmp_path)
    try:
        wb.add_media_folder(tmp_path / "mine")
        real = socket.socket.connect

        def loopback_only(self, address):  # the offline default reaches nothing beyond this machine
            if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
                raise AssertionError(f"network access to {address}")
            return real(self, address)

        monkeypatch.setattr(socket.socket, "connect", loopback_only)
        job = staged_job(wb)  # the default chain: library > pexels > pixabay > slides, no keys
        assert wb.worker.run_job(job) == "done"
        rows = scenes_of(wb, job)
        mine = [r for r in rows if r["provider"] == "library"]
        assert mine and all("octopus" in Path(r["path"]).name for r in mine)
        assert not [r for r in rows if "city-traffic" in r["path"]]
        assert {r["provider"] for r in rows} == {"library", "slides"}
        assert fallbacks_of(wb, job) == []  # sources not set up are no news on every video
    finally:
        wb.close()


def test_the_operator_swaps_a_scene_and_only_the_render_and_later_stages_run_again(tmp_path, media):
    with FakePexels(media, per_query=3) as pexels:  # more footage than scenes: some alternatives are unused
        swap_scenario(tmp_path, pexels)


def swap_scenario(tmp_path, pexels):
    from pipeline.stages import StageOutput
    renders = []

    def render(ctx):  # stands in for the real render: it records which visuals it was given
        renders.append(json.loads(Path(ctx.artifacts["scenes"]).read_text())["scenes"])
        out = ctx.job_dir / "video.mp4"
        out.write_bytes(b"mp4")
        return StageOutput({"video": out}, [], "ffmpeg")

    wb = with_pexels(tmp_path, pexels)
    try:
        wb.worker.pipeline = (*wb.worker.pipeline, StageSpec("render", render))
        job = staged_job(wb, visuals="pexels > slides", stages=("scenes", "visuals", "render"))
        assert wb.worker.run_job(job) == "done"
        rows = scenes_of(wb, job)
        shown = {(r["provider"], r["source_id"]) for r in rows}
        scene = next(r for r in rows if r["provider"] == "pexels"
                     and any((c["provider"], c["source_id"]) not in shown for c in json.loads(r["candidates"])))
        other = next(c for c in json.loads(scene["candidates"]) if (c["provider"], c["source_id"]) not in shown)
        taken = next(c for c in json.loads(scene["candidates"])
                     if (c["provider"], c["source_id"]) in shown and c["source_id"] != scene["source_id"])
        with pytest.raises(ConfigError, match="shows that .* already"):  # never the same footage twice
            wb.swap_scene(job, scene["idx"], candidate=taken)
        ledger = wb.db.query("SELECT id FROM cost_ledger WHERE job_id = ? ORDER BY id", [job])
        plan = jobs.artifacts(wb.db, job)["scene_plan"].read_text()
        forged = {**other, "url": "http://127.0.0.1:9/elsewhere.mp4"}  # only the stored offer is fetched
        wb.swap_scene(job, scene["idx"], candidate=forged)
        with pytest.raises(ConfigError, match="is queued: wait"):  # queued again: a second swap waits for it
            wb.swap_scene(job, scene["idx"], candidate=other)
        after = {r["idx"]: r for r in scenes_of(wb, job)}
        assert (after[scene["idx"]]["provider"], after[scene["idx"]]["source_id"]) == (other["provider"],
                                                                                   other["source_id"])
        stages = dict(wb.db.query("SELECT stage, status FROM job_stages WHERE job_id = ?", [job]))
        assert stages == {"scenes": "done", "visuals": "done", "render": "pending"}
        assert jobs.get_job(wb.db, job)["status"] == "queued"
        assert wb.worker.run_job(job) == "done"
        assert len(renders) == 2 and renders[1][scene["idx"]]["source_id"] == other["source_id"]
        assert jobs.artifacts(wb.db, job)["scene_plan"].read_text() == plan  # the scenes were not planned again
        # the scenes and visuals stages did not run again, and a free source's swap paid nothing: the ledger is
        # as it was (a generated picture would add its one row here)
        assert wb.db.query("SELECT id FROM cost_ledger WHERE job_id = ? ORDER BY id", [job]) == ledger
        with pytest.raises(Exception, match="not one of this scene's alternatives"):
            wb.swap_scene(job, scene["idx"], candidate={"provider": "pexels", "source_id": "video:999"})
    finally:
        wb.close()


@pytest.mark.slow
def test_make_with_pexels_footage_prints_the_scenes(tmp_path, media):
    with FakePexels(media, per_query=6) as fake:  # a search finds footage of its words, as the real one does
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PEXELS_API_KEY": fake.key,
               "YTEMPIRE_PEXELS_API_ROOT": fake.url + "/"}
        proc = subprocess.run([sys.executable, "-m", "pipeline", "make", "Why octopuses are so smart", "--duration",
                               "30", "--visuals", "pexels,slides", "--source", EXAMPLE_SOURCE, "--json", "--data-dir",
                               str(tmp_path / "d")],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
    assert out["status"] == "done" and 25 <= out["duration_s"] <= 35
    scenes = out["scenes"]
    assert set(scenes[0]) == {"start", "end", "narration", "query", "provider", "kind", "source", "score"}
    footage = [s for s in scenes if s["provider"] == "pexels"]
    assert len(footage) == len(scenes)  # every scene found footage: nothing fell back to slides
    assert all(s["source"].startswith("https://www.pexels.com/") and s["score"] >= 0.35 for s in footage)
    assert len({s["source"] for s in footage}) == len(footage)  # no clip twice
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", out["video"]], capture_output=True, text=True)
    assert "1920x1080" in probe.stderr


PLACES = ["lab", "reef", "cave", "jar", "tank"]


def test_a_writers_visual_queries_are_the_scenes_queries(tmp_path):
    wb = bench(tmp_path)
    try:
        job = staged_job(wb, stages=("scenes",))
        path = wb.settings.jobs_dir / str(job) / "script.json"
        data = json.loads(path.read_text())
        for i, section in enumerate(data["sections"]):
            section["visuals"] = [f"octopus {PLACES[i]}"] * len(section["sentences"])
        path.write_text(json.dumps(data))
        wb.worker.pipeline = (StageSpec("scenes", scene_stages.plan),)
        assert wb.worker.run_job(job) == "done"
        plan = json.loads((wb.settings.jobs_dir / str(job) / "scene_plan.json").read_text())
        by_block = {s["block"]: s["query"] for s in plan["scenes"]}
        sections = [b for b in by_block if b.startswith("section-")]
        assert sections and all(by_block[b] == f"octopus {PLACES[int(b.split('-')[1]) - 1]}" for b in sections)
        assert by_block["hook"] not in {f"octopus {p}" for p in PLACES}  # the hook had none given: extracted from its text
    finally:
        wb.close()


def test_credits_name_each_sources_authors_once_in_the_description(tmp_path):
    from pipeline.script import Script, Section
    from pipeline.stages import credit_lines, youtube_body

    rows = [{"provider": "pexels", "author": "Ana Diver", "attribution_required": True},
            {"provider": "pexels", "author": "Leo Reef", "attribution_required": True},
            {"provider": "pexels", "author": "Ana Diver", "attribution_required": True},
            {"provider": "pixabay", "author": "someone", "attribution_required": False},
            {"provider": "library", "author": None, "attribution_required": False}]
    path = tmp_path / "scenes.json"
    path.write_text(json.dumps({"scenes": rows}))
    assert credit_lines(path) == ["Ana Diver and Leo Reef on Pexels"]
    script = Script("Octopus", "Hook.", [Section("A", ["One."])], "Bye.", "About octopuses.", [], 10, 150)
    body = youtube_body(script, {"name": "C", "language": "en"}, {}, "octopus", credit_lines(path))
    assert body["snippet"]["description"].endswith("Footage and pictures: Ana Diver and Leo Reef on Pexels.")
    many = [{"provider": "pexels", "author": f"Author {i}", "attribution_required": True} for i in range(30)]
    path.write_text(json.dumps({"scenes": many}))
    [line] = credit_lines(path)
    assert line.endswith("and 18 more on Pexels") and "Author 11" in line and "Author 12" not in line
    assert credit_lines(tmp_path / "missing.json") == []


def test_a_swap_to_a_library_alternative_and_the_refusal_once_an_upload_has_begun(tmp_path, monkeypatch):
    from pipeline.stages import StageOutput

    def render(ctx):
        out = ctx.job_dir / "video.mp4"
        out.write_bytes(b"mp4")
        return StageOutput({"video": out}, [], "ffmpeg")

    make_library(tmp_path / "mine")
    wb = bench(tmp_path)
    try:
        wb.add_media_folder(tmp_path / "mine")
        wb.worker.pipeline = (*wb.worker.pipeline, StageSpec("render", render))
        job = staged_job(wb, visuals="library > slides", stages=("scenes", "visuals", "render"))
        assert wb.worker.run_job(job) == "done"
        rows = scenes_of(wb, job)
        slide = next(r for r in rows if r["provider"] == "slides")
        city = next(c for c in json.loads(slide["candidates"]) if "city traffic" in c["text"])  # offered, below par
        wb.swap_scene(job, slide["idx"], candidate=city)  # a library alternative, fetched from the library itself
        assert Path({r["idx"]: r for r in scenes_of(wb, job)}[slide["idx"]]["path"]).name == "city-traffic-at-night.jpg"
        assert wb.worker.run_job(job) == "done"
        monkeypatch.setattr(wb.youtube.publisher, "sent", lambda job_id: True)  # an upload has begun
        with pytest.raises(ConfigError, match="gone to YouTube"):
            wb.swap_scene(job, slide["idx"], library_path=str(tmp_path / "mine" / "octopus-opening-a-jar.mp4"))
    finally:
        wb.close()


def test_scene_lengths_that_contradict_each_other_are_refused(tmp_path):
    with pytest.raises(ValueError, match="shortest scene"):
        Settings(data_dir=tmp_path, scene_min_s=9, scene_max_s=8)


def test_a_visual_gone_since_it_was_chosen_shows_its_slide_and_says_so(tmp_path):
    from pipeline.media.scene_render import SceneVisual
    from pipeline.stage_types import StageContext
    from pipeline.stages import usable_visuals

    slide = tmp_path / "slide-1.png"
    Image.new("RGB", (64, 36)).save(slide)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 36)).save(photo)
    index = tmp_path / "slides.json"
    index.write_text(json.dumps([{"path": str(slide), "block": "section-1"}]))
    ctx = StageContext({"id": 1}, {}, Settings(data_dir=tmp_path / "d"), tmp_path, {"slides": index})
    visuals = [SceneVisual(tmp_path / "deleted.mp4", "video", 0, 3, "section-1"),
               SceneVisual(broken, "video", 3, 6, "section-1"), SceneVisual(photo, "image", 6, 9, "section-1")]
    shown, notes = usable_visuals(ctx, visuals)
    assert [(v.kind, v.path) for v in shown] == [("slide", slide), ("slide", slide), ("image", photo)]
    assert [n.to_provider for n in notes] == ["slides", "slides"] and "deleted.mp4 is gone" in notes[0].reason


def test_two_videos_of_a_channel_choosing_at_once_never_pick_the_same_clip(tmp_path, pexels):
    import threading as th

    wb = with_pexels(tmp_path, pexels)
    try:
        first, second = staged_job(wb, visuals="pexels > slides"), staged_job(wb, visuals="pexels > slides")
        results = []
        runs = [th.Thread(target=lambda j=j: results.append(wb.worker.run_job(j))) for j in (first, second)]
        for t in runs:
            t.start()
        for t in runs:
            t.join(120)
        assert results == ["done", "done"]
        picks = [{r["source_id"] for r in scenes_of(wb, j) if r["provider"] == "pexels"} for j in (first, second)]
        assert (picks[0] | picks[1]) and not picks[0] & picks[1]  # the later saw the earlier one's picks, unrecorded
    finally:
        wb.close()


def test_scenes_with_the_same_query_each_get_their_own_generated_picture(tmp_path, media):
    with FakeOpenAIImages(media) as fake:
        wb = bench(tmp_path, openai_api_key=fake.key, openai_base_url=fake.url + "/v1")
        try:
            first = staged_job(wb, visuals="openai-image > slides", outline="")  # no outline: one query for all
            assert wb.worker.run_job(first) == "done"
            rows = scenes_of(wb, first)
            assert len({r["query"] for r in rows}) < len(rows)  # some scenes share their query
            assert all(r["provider"] == "openai-image" for r in rows)  # yet every scene has a picture
            assert len({r["source_id"] for r in rows}) == len(rows) == len(fake.requests)  # each its own, paid once
            second = staged_job(wb, visuals="openai-image > slides", outline="")
            assert wb.worker.run_job(second) == "done"
            again = scenes_of(wb, second)
            assert not {r["source_id"] for r in again} & {r["source_id"] for r in rows}  # new pictures, not repeats
        finally:
            wb.close()
