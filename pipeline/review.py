"""The operator in control: review gates, script versions, and publishing from the Library.

A job of a channel (or a video) with a review gate stops as ``review`` after its script (before any voice is
paid for) or after the quality gate (before anything goes out). Here the operator reads and edits the script
(each edit a new version; only the stages its change touches run again), regenerates it with the same or
another writer, approves it, edits a finished video's title, description, tags, thumbnail, privacy and
publish time, and publishes it to the channel's YouTube account or the outbox. Every rerun is a new run of
the job, so the ledger says what each one cost.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipeline import jobs
from pipeline.config import ConfigError
from pipeline.files import job_file
from pipeline.script import Script, Section
from pipeline.youtube.metadata import tags_length, youtube_length

MAX_TITLE = 100  # YouTube's limits, said before anything is queued
MAX_DESCRIPTION_BYTES = 5000
MAX_TAGS_CHARS = 500
MAX_SENTENCE_CHARS = 600
MAX_SECTIONS = 40
MAX_WORDS_FACTOR = 3  # an edited narration may run to 3x the words the duration asks for
PRIVACY = ("private", "unlisted", "public")
TARGETS = ("youtube", "outbox")
EDITABLE_STATES = ("review", "done", "held", "failed", "cancelled")


class ReviewError(ConfigError):
    """A review action that cannot be done as asked, in words that say what to do instead."""


@dataclass
class SectionEdit:
    heading: str
    sentences: list[str]


@dataclass
class ScriptEdit:
    """What the operator may change in a script; the rest (cites, visual queries, references) is kept."""

    title: str
    hook: str
    sections: list[SectionEdit]
    call_to_action: str
    description: str
    tags: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, script: Script) -> ScriptEdit:
        return cls(script.title, script.hook, [SectionEdit(s.heading, list(s.sentences)) for s in script.sections],
                   script.call_to_action, script.description, list(script.tags))


@dataclass
class PublishRequest:
    """The publish form: metadata (None keeps what the script says), privacy, time, thumbnail and target."""

    target: str = "youtube"
    privacy: str = "private"
    title: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    publish_at: datetime | None = None  # UTC; YouTube publishes it then (private until)
    thumbnail: str | None = None  # an option key from thumbnail_options(); None keeps the current one
    keep_schedule: bool = False  # keep the publish time the video was queued with (bulk publishing)


def split_tags(text: str) -> list[str]:
    """Comma-separated tags as typed in a form or on the command line."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _clean_lines(items: list[str]) -> list[str]:
    return [" ".join(str(x).split()) for x in items if str(x).strip()]


def check_metadata(title: str, description: str, tags: list[str]) -> list[str]:
    """YouTube's rules for a title, a description and tags, as instructions (empty when they pass)."""
    errors = []
    if not title.strip():
        errors.append("The title is empty: give the video a title.")
    elif youtube_length(title) > MAX_TITLE:
        errors.append(f"The title is {youtube_length(title)} characters: YouTube allows {MAX_TITLE}.")
    if "<" in title or ">" in title:
        errors.append("YouTube refuses < and > in a title: remove them.")
    if len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        errors.append(f"The description is {len(description.encode('utf-8')):,} bytes: YouTube allows "
                      f"{MAX_DESCRIPTION_BYTES:,}.")
    if "<" in description or ">" in description:
        errors.append("YouTube refuses < and > in a description: remove them.")
    if tags_length(tags) > MAX_TAGS_CHARS:
        errors.append(f"The tags come to {tags_length(tags)} characters: YouTube allows {MAX_TAGS_CHARS} in all.")
    return errors


def apply_edit(script: Script, edit: ScriptEdit, target_words: int | None = None) -> Script:
    """The script with the operator's edit, validated; sentences they changed or added cite 'outline' (their
    own words: the traceable check does not hold them to a source), unchanged ones keep cite and visual query."""
    tags = _clean_lines(edit.tags)
    errors = check_metadata(edit.title, edit.description, tags)
    sections, used = [], set()
    if len(edit.sections) > MAX_SECTIONS:
        errors.append(f"A script has at most {MAX_SECTIONS} sections.")
    for n, s in enumerate(edit.sections, start=1):
        sentences = _clean_lines(s.sentences)
        long = [x for x in sentences if len(x) > MAX_SENTENCE_CHARS]
        if long:
            errors.append(f"Section {n} has a sentence of {len(long[0])} characters: split it (at most "
                          f"{MAX_SENTENCE_CHARS} each).")
        if not sentences:
            continue  # an emptied section is a removed section
        old = _matching(script.sections, s.heading, n - 1, used)
        kept = {x: i for i, x in enumerate(old.sentences)} if old else {}
        cites = [old.cite_for(kept[x]) if x in kept else "outline" for x in sentences] if old else ["outline"] * len(sentences)
        visuals = [old.visuals[kept[x]] if x in kept and kept[x] < len(old.visuals) else "" for x in sentences] \
            if old else []
        sections.append(Section(" ".join(s.heading.split()) or f"Part {n}", sentences,
                                bullets=list(old.bullets) if old and old.heading == " ".join(s.heading.split())
                                else [],
                                visuals=visuals if any(visuals) else [], cites=cites))
    edited = Script(**{**script.__dict__, "title": " ".join(edit.title.split()), "hook": " ".join(edit.hook.split()),
                       "sections": sections, "call_to_action": " ".join(edit.call_to_action.split()),
                       "description": edit.description.strip(), "tags": tags})
    if not edited.spoken_text.strip():
        errors.append("The script says nothing: write at least one sentence.")
    limit = (target_words or script.target_words) * MAX_WORDS_FACTOR
    if limit and edited.word_count > limit:
        errors.append(f"The narration is {edited.word_count:,} words: at most {limit:,} for this video's length "
                      "(make the video longer, or cut).")
    if errors:
        raise ReviewError(" ".join(errors))
    return edited


def _matching(old: list[Section], heading: str, position: int, used: set[int]) -> Section | None:
    """The old section an edited one continues: the one with its heading (sections removed or moved keep
    their citations), else the one in its place."""
    heading = " ".join(heading.split())
    for i, section in enumerate(old):
        if i not in used and section.heading == heading:
            used.add(i)
            return section
    if position < len(old) and position not in used:
        used.add(position)
        return old[position]
    return None


def earliest_change(old: Script, new: Script, hook_slides: bool = True) -> str | None:
    """The first stage an edit touches (it and every later stage run again; earlier ones are kept), or None
    when only what publishing sends changed (description, tags)."""
    if [b.sentences for b in old.blocks()] != [b.sentences for b in new.blocks()]:
        return "voice"  # what is said: a new narration, and everything timed to it
    if [s.heading for s in old.sections] != [s.heading for s in new.sections]:
        return "scenes"  # headings steer the visual queries and are drawn on slides
    if old.title != new.title:
        return "visuals" if hook_slides else "thumbnail"  # the hook's slide shows the title; the thumbnail does
    return None


def describe_edit(old: Script, new: Script) -> str:
    changed = []
    if old.title != new.title:
        changed.append("title")
    if old.hook != new.hook:
        changed.append("hook")
    for n, (a, b) in enumerate(zip(old.sections, new.sections), start=1):
        if a.sentences != b.sentences or a.heading != b.heading:
            changed.append(f"section {n}")
    if len(old.sections) != len(new.sections):
        changed.append(f"{len(new.sections)} sections (was {len(old.sections)})")
    if old.call_to_action != new.call_to_action:
        changed.append("call to action")
    if old.description != new.description:
        changed.append("description")
    if old.tags != new.tags:
        changed.append("tags")
    return "edited " + (", ".join(changed) if changed else "nothing")


class ReviewDesk:
    """The review actions, over one database; the Workbench holds one as ``wb.review``."""

    def __init__(self, db, settings, worker, youtube):
        self.db, self.settings, self.worker, self.youtube = db, settings, worker, youtube

    # -- reading -------------------------------------------------------------------------------
    def script(self, job_id: int) -> Script:
        found = jobs.artifacts(self.db, job_id).get("script")
        path = job_file(found, self.settings.jobs_dir, job_id) if found else None
        if path is None or not path.exists():
            raise ReviewError(f"Job #{job_id} has no script yet: wait for its script stage.")
        return Script.load(path)

    def versions(self, job_id: int) -> list[dict]:
        return jobs.script_versions(self.db, job_id)

    def runs(self, job_id: int) -> list[dict]:
        """Each run of the job with what it cost: run 1 is the first pass, each rerun after an edit the next."""
        return self.db.query_dicts(
            "SELECT r.run, r.from_stage, r.reason, r.created_at, coalesce(sum(l.usd), 0)::DOUBLE AS usd FROM"
            " (SELECT 1 AS run, NULL AS from_stage, 'first run' AS reason, j.created_at FROM jobs j WHERE j.id = ?"
            "  UNION ALL SELECT run, from_stage, reason, created_at FROM job_runs WHERE job_id = ?) r"
            " LEFT JOIN cost_ledger l ON l.job_id = ? AND l.run = r.run"
            " GROUP BY r.run, r.from_stage, r.reason, r.created_at ORDER BY r.run", [job_id, job_id, job_id])

    def quota_used(self, job_id: int) -> int:
        row = self.db.query_one("SELECT coalesce(sum(units), 0) FROM quota_ledger WHERE job_id = ?", [job_id])
        return int(row[0]) if row else 0

    # -- the script gate -----------------------------------------------------------------------
    def _job(self, job_id: int, allowed: tuple[str, ...] = EDITABLE_STATES) -> dict:
        job = jobs.get_job(self.db, job_id)
        if job["status"] not in allowed:
            raise ReviewError({"queued": f"Job #{job_id} is queued: wait until it stops for review or finishes.",
                               "running": f"Job #{job_id} is running: wait until it stops for review or finishes."}
                              .get(job["status"], f"Job #{job_id} is {job['status']}: this cannot be done now."))
        return job

    def _on_youtube(self, job_id: int) -> bool:
        video = self.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job_id])
        return bool(video and video[0] in ("published", "scheduled")) or self.youtube.sent(job_id)

    def _write_version(self, job_id: int, script: Script) -> Path:
        """The edited script in a file of its own; recording it as a version renames it to script.v<N>.json
        under the write lock, so two saves at once never share a file."""
        import uuid

        path = self.settings.jobs_dir / str(job_id) / f"script.edit-{uuid.uuid4().hex[:12]}.json"
        tmp = path.with_name(path.name + ".partial")
        script.save(tmp)
        tmp.replace(path)
        return path

    def _keep_destination(self, job_id: int, job: dict) -> dict:
        """An edit never changes where a video goes: one exported to the outbox goes there again; only publish()
        sends it to YouTube."""
        if job["brief"].get("publish_target"):
            return {}
        state = self.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job_id])
        return {"publish_target": "outbox"} if state and state[0] == "outbox" else {}

    def edit_script(self, job_id: int, edit: ScriptEdit, approve: bool = False) -> dict:
        """Store the operator's edit as a new script version. Waiting for script review: kept there (or approved
        and queued on with ``approve``). Later (waiting to publish, done, held, failed): the stages the edit
        touches run again, earlier ones are kept; a rerun before publishing is approved anew where the gate
        asks, and goes where the video went before. Refused once the video has gone to YouTube (it takes no new
        file). Returns {"version", "rerun_from", "status"}."""
        job = self._job(job_id)
        old = self.script(job_id)
        new = apply_edit(old, edit, job.get("duration_s") and round(job["duration_s"] / 60 * self.settings.speaking_rate_wpm))
        note = describe_edit(old, new)
        awaiting_script = job["status"] == "review" and job.get("awaiting") == "script"
        if note == "edited nothing" and not (approve and awaiting_script):
            raise ReviewError("Nothing changed: edit a sentence, the title or the description first.")
        if awaiting_script:
            path = self._write_version(job_id, new) if note != "edited nothing" else None
            if not approve:
                version = jobs.add_operator_script(self.db, job_id, path, note)
                return {"version": version, "rerun_from": None, "status": "review"}
            said = jobs.resume(self.db, job_id, "script approved" + (f" ({note})" if path else ""), approve="script",
                               script=(path, note) if path else None)
            self.worker.wake()
            return {"version": said.get("version"), "rerun_from": None, "status": "queued"}
        if self._on_youtube(job_id):
            raise ReviewError(f"Job #{job_id} has gone to YouTube already (or its upload has begun), and YouTube takes "
                              "no new file for a video: make a new video to change what it says.")
        stage = earliest_change(old, new, self._hook_slides(job_id))
        if stage is None:  # description or tags: publishing reads them from the script; nothing else reruns
            stage = "publish" if job["status"] == "done" else None
        if job["status"] == "held" and (stage is None or stage == "publish"):
            stage = "quality"  # a held video is judged again, never published on the old verdict
        if stage is not None and not self._has_stage(job_id, stage):
            stage = None
        path = self._write_version(job_id, new)
        if stage is None and job["status"] == "review":  # waiting to publish: the new text goes out when it does
            said = {"version": jobs.add_operator_script(self.db, job_id, path, note)}
        else:
            said = jobs.resume(self.db, job_id, f"{note}: {'rerun from ' + stage if stage else 'no stage reruns'}",
                               from_stage=stage, script=(path, note), approve="script",
                               brief=self._keep_destination(job_id, job), allow=("done", "held", "failed", "cancelled"))
        self._sync_video(job_id, new)
        self.worker.wake()
        return {"version": said.get("version"), "rerun_from": stage,
                "status": jobs.get_job(self.db, job_id)["status"]}

    def _sync_video(self, job_id: int, script: Script) -> None:
        """The Library's row shows the edited title, description and tags at once (a rerun rewrites them too)."""
        with self.db.write() as cur:
            cur.execute("UPDATE videos SET title = ?, description = ?, tags = ? WHERE job_id = ?",
                        [script.title, script.description, script.tags, job_id])

    def _has_stage(self, job_id: int, stage: str) -> bool:
        return any(s["stage"] == stage for s in jobs.job_stages(self.db, job_id))

    def _hook_slides(self, job_id: int) -> bool:
        """Whether a scene of the hook shows a slide (which has the title on it)."""
        row = self.db.query_one("SELECT count(*) FROM job_scenes WHERE job_id = ? AND block = 'hook' AND"
                                " (kind = 'slide' OR kind IS NULL)", [job_id])
        scenes = self.db.query_one("SELECT count(*) FROM job_scenes WHERE job_id = ?", [job_id])
        return bool(row and row[0]) or not (scenes and scenes[0])

    def approve_script(self, job_id: int) -> None:
        job = self._job(job_id, ("review",))
        if job.get("awaiting") != "script":
            raise ReviewError(f"Job #{job_id} is not waiting for a script review.")
        jobs.resume(self.db, job_id, "script approved", approve="script")
        self.worker.wake()

    def regenerate_script(self, job_id: int, writer: str | None = None) -> None:
        """Write the script again (with ``writer``, a writer chain, or the same one); the new version waits
        for review before any voice is paid for. Refused once the video has gone to YouTube."""
        job = self._job(job_id)
        if self._on_youtube(job_id):
            raise ReviewError(f"Job #{job_id} has gone to YouTube already: make a new video instead.")
        brief: dict = {}
        if writer:
            from pipeline.providers import chain_items, parse_item
            if len(writer) > 300:
                raise ReviewError("A writer chain is at most 300 characters.")
            for item in chain_items(writer):
                parse_item("writer", item)
            usable = [i for i in chain_items(writer) if not _writer_problem(i, self.settings)]
            if not usable:
                raise ReviewError(f"No writer in '{writer}' can run now: add its key in Settings, or pick another.")
            brief["writer"] = writer
        gates = (job["brief"].get("review") or self._channel_review(job)) or "auto"
        brief["review"] = "both" if gates in ("publish", "both") else "script"  # the new script waits for you
        brief.update(self._keep_destination(job_id, job))
        jobs.resume(self.db, job_id, f"script written again by {writer or 'the same writer'}", from_stage="script",
                    brief=brief, allow=("done", "held", "failed", "cancelled"), unapprove=("script", "publish"))
        self.worker.wake()

    def _channel_review(self, job: dict) -> str:
        row = self.db.query_one("SELECT review FROM channels WHERE id = ?", [job["channel_id"]])
        return row[0] if row else "auto"

    # -- publishing ----------------------------------------------------------------------------
    def can_publish(self, job_id: int) -> tuple[bool, str]:
        """Whether the Library may offer to publish this job now, and why not."""
        job = jobs.get_job(self.db, job_id)
        video = self.db.query_one("SELECT video_path FROM videos WHERE job_id = ?", [job_id])
        if not (video and video[0] and Path(video[0]).exists()):
            return False, "its video file is gone (deleted, or never made): retry the job to make it again"
        if job["status"] == "review" and job.get("awaiting") == "publish":
            return True, "waiting for you to publish it"
        if job["status"] == "failed" and job.get("error_stage") == "publish" and not self._on_youtube(job_id):
            return True, "publishing failed: it can go to YouTube or the outbox again"
        if job["status"] == "done":
            if self._on_youtube(job_id):
                return False, "it is on YouTube already"
            return True, "exported to the outbox: it can go to YouTube too"
        if job["status"] == "held":
            return False, "the quality gate held it: fix what it says and retry"
        return False, {"review": "its script waits for your review first", "queued": "it is queued",
                       "running": "it is still being made"}.get(job["status"], f"it is {job['status']}")

    def connected(self, channel_id: int) -> bool:
        return bool(self.youtube.accounts.accounts(channel_id))

    def thumbnail_options(self, job_id: int, limit: int = 4) -> list[dict]:
        """Thumbnails the operator may choose from: the title over up to ``limit`` scenes' frames (best scored
        first) and over the brand's card; each drawn once into the job's folder (cached by title and scene)."""
        from pipeline.media.scene_render import SceneVisual, thumbnail_background
        from pipeline.media.thumbnail import make_thumbnail

        job = jobs.get_job(self.db, job_id)
        channel = self.db.query_dicts("SELECT * FROM channels WHERE id = ?", [job["channel_id"]])
        if not channel:
            raise ReviewError(f"Job #{job_id}'s channel is gone.")
        from pipeline.stage_types import brand_of
        brand = brand_of(channel[0])
        title = self.script(job_id).title
        folder = self.settings.jobs_dir / str(job_id) / "thumbs"
        folder.mkdir(parents=True, exist_ok=True)
        rows = self.db.query_dicts("SELECT idx, kind, path, start_s, end_s, score, narration FROM job_scenes"
                                   " WHERE job_id = ? AND kind IN ('video', 'image') ORDER BY score DESC NULLS LAST,"
                                   " idx LIMIT ?", [job_id, limit])
        options = []
        for row in [*rows, None]:
            key = "card" if row is None else f"scene-{row['idx']}"
            source = "" if row is None else f"{row['path']}|{_mtime(row['path'])}"
            tag = hashlib.sha1(f"{title}|{key}|{brand}|{source}".encode()).hexdigest()[:10]
            out = folder / f"{key}-{tag}.jpg"
            if not out.exists():
                background = None
                if row is not None:
                    if not Path(row["path"]).exists():
                        continue
                    try:
                        background = thumbnail_background(SceneVisual(Path(row["path"]), row["kind"], row["start_s"],
                                                                       row["end_s"]), folder / f"{key}-frame.jpg")
                    except Exception:  # noqa: BLE001 - a frame that cannot be read is simply not offered
                        continue
                make_thumbnail(title, brand, out, background=background)
            label = "Brand card" if row is None else f"Scene {row['idx']}: {(row['narration'] or '')[:60]}"
            options.append({"key": key, "label": label, "path": str(out)})
        return options

    def publish(self, job_id: int, req: PublishRequest) -> dict:
        """Publish a video waiting for review, or one exported to the outbox, with the operator's metadata: the
        stages the edit touches run again (a new title redraws the thumbnail), then publish runs. Checked before
        anything is queued: the target (YouTube needs the channel connected), privacy and time, YouTube's
        metadata rules, the thumbnail option. Returns {"job_id", "target", "rerun_from", "version"}."""
        job = jobs.get_job(self.db, job_id)
        ok, why = self.can_publish(job_id)
        if not ok:
            raise ReviewError(f"Job #{job_id} cannot be published now: {why}.")
        if req.target not in TARGETS:
            raise ReviewError(f"Publish to one of {', '.join(TARGETS)} (not {str(req.target)[:40]!r}).")
        if req.target == "youtube" and not self.connected(job["channel_id"]):
            raise ReviewError("This channel is not connected to YouTube: connect it on the Channels page "
                              "(YouTube tab), or export to the outbox.")
        if req.privacy not in PRIVACY:
            raise ReviewError(f"Privacy must be one of {', '.join(PRIVACY)}.")
        brief: dict = {"publish_target": req.target, "privacy": req.privacy}
        if not req.keep_schedule:
            brief["publish_at"] = None
        elif job["brief"].get("publish_at"):
            brief["privacy"] = "private"  # YouTube keeps a scheduled video private until its time
        if req.publish_at is not None:
            at = req.publish_at if req.publish_at.tzinfo else req.publish_at.replace(tzinfo=timezone.utc)
            if at <= datetime.now(timezone.utc):
                raise ReviewError("The publish time has passed: choose a time in the future, or publish now.")
            if (at - datetime.now(timezone.utc)).days > 365:
                raise ReviewError("Schedule at most a year ahead.")
            brief["publish_at"] = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        old = self.script(job_id)
        edit = ScriptEdit.of(old)
        if req.title is not None:
            edit.title = req.title
        if req.description is not None:
            edit.description = req.description
        if req.tags is not None:
            edit.tags = list(req.tags)
        new = apply_edit(old, edit, None)
        stage = earliest_change(old, new, self._hook_slides(job_id))
        if req.thumbnail is not None and req.thumbnail != job["brief"].get("thumbnail_choice"):
            if req.thumbnail not in {o["key"] for o in self.thumbnail_options(job_id)}:
                raise ReviewError("That thumbnail is not one of this video's options: pick one shown.")
            brief["thumbnail_choice"] = req.thumbnail
            stage = stage or "thumbnail"
        stage = stage or "publish"
        if not self._has_stage(job_id, stage):
            stage = "publish"
        note = describe_edit(old, new)
        path = self._write_version(job_id, new) if note != "edited nothing" else None
        where = "YouTube" if req.target == "youtube" else "the outbox"
        said = jobs.resume(self.db, job_id, f"publish to {where} as {req.privacy} approved"
                           + (f" ({note})" if path else ""), from_stage=stage, approve="publish", brief=brief,
                           script=(path, note) if path else None, allow=("done", "failed"))
        if path:
            self._sync_video(job_id, new)
        self.worker.wake()
        return {"job_id": job_id, "target": req.target, "rerun_from": stage, "version": said.get("version")}

    def publish_result(self, job_id: int) -> dict | None:
        """After publishing: where it went (link), its state, and the quota units the job was charged."""
        found = jobs.artifacts(self.db, job_id).get("publish")
        path = job_file(found, self.settings.jobs_dir, job_id) if found else None
        if path is None or not path.exists():
            return None
        said = json.loads(path.read_text(encoding="utf-8"))
        return {"state": said.get("state"), "ref": said.get("ref"), "url": said.get("url"), "at": said.get("at"),
                "quota_units": self.quota_used(job_id)}


def _mtime(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


def _writer_problem(item: str, settings) -> str | None:
    from pipeline.providers import make
    return make("writer", item, settings).check(settings)
