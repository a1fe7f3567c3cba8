"""The Workbench: settings, the database and the worker, and the actions operators take.

The app holds one (through ``st.cache_resource``); the CLI makes one per run.
Pages read through ``pipeline.queries`` and act only through these methods.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from pipeline import backup, channels, jobs
from pipeline.access.accounts import AccessDesk
from pipeline.access.actor import SYSTEM, Actor
from pipeline.access.guard import acts
from pipeline.access.scope import ScopedDb
from pipeline.access.tokens import TokenDesk
from pipeline.budget import release_holds
from pipeline.config import FORMATS, ConfigError, Settings, validate_duration
from pipeline.costs import PriceTable, Usage
from pipeline.db import Database, open_database
from pipeline.files import job_file, private_dir
from pipeline.gpu import GpuLease
from pipeline.providers import UnknownProvider, chain_items, first_in_chain, make, parse_item
from pipeline.providers import status as provider_status
from pipeline.providers.base import BriefError, check_text
from pipeline.providers.local_writer import sized_words
from pipeline.review import ReviewDesk
from pipeline.snapshots import SnapshotWriter
from pipeline.trends import features
from pipeline.trends.desk import TrendDesk
from pipeline.webhook_delivery import WebhookDispatcher
from pipeline.webhooks import WebhookDesk
from pipeline.youtube.desk import YouTubeDesk
from pipeline.worker import Worker

log = logging.getLogger("ytempire")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` aside and rename it over ``path``: a reader sees the old file or the new, never half."""
    tmp = path.with_name(f"{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@dataclass
class VideoRequest:
    topic: str
    channel: int | str | None = None
    duration_s: int | None = None
    format: str | None = None
    outline: str = ""
    related_titles: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    writer: str | None = None
    voice: str | None = None
    visuals: str | None = None  # the visuals chain for this video (default: the channel's, then Settings')
    privacy: str = "private"
    cap_usd: float | None = None
    publish_at: str | None = None  # ISO time (UTC) YouTube should publish at; privacy becomes private until then
    playlist_id: str | None = None
    request_key: str | None = None  # idempotency key: the same key never makes a second job
    sources: list[str] = field(default_factory=list)  # files (txt, md, html, pdf) and URLs the facts come from
    source_text: str = ""  # pasted source text
    captions: str | None = None  # caption style for this video (default: the channel's)
    music: bool = True  # background music from the channel's music folder, when it has one
    review: str | None = None  # review gate for this video (auto, script, publish, both); default: the channel's


# Settings an operator may change from the Settings page (stored in app_settings).
EDITABLE = {
    "cap_usd": "Spending cap per video (USD)",
    "quality_threshold": "Quality threshold (0-100)",
    "workers": "Worker threads (takes effect on restart)",
    "gpu_slots": "GPU stages at once (takes effect on restart)",
    "transition": "Slide transition",
    "daily_budgets": "Daily budgets per provider",
    "backup_daily": "Daily automatic backup",
    "backup_keep": "Automatic backups kept",
    "backup_max_mb": "Backup size limit for restores (MB, 0 = automatic)",
    "webhooks_allow_private": "Webhooks may reach private addresses (this machine, your network)",
}
RESTART_NEEDED = {"workers", "gpu_slots"}
MAX_REQUEST_KEY_CHARS = 200
MAX_RELATED = 50  # related trending titles and tags a request may carry
MAX_BATCH_LINES = 500
MIN_TOPIC_CHARS = 3  # a batch line shorter than this is a typo, not a topic
MAX_BULK = 200  # jobs one bulk action may touch


class Workbench:
    SERVICES = ("worker", "snapshots", "scheduler", "trends", "webhooks")
    actor: Actor = SYSTEM  # who acts through this object: the installation itself, until acting() names a user

    def __init__(self, settings: Settings, *, start_worker: bool = True, lease: GpuLease | None = None,
                 snapshot_s: float = 30.0, services: tuple[str, ...] | None = None):
        """``services``: the background threads to start (default: all of SERVICES with start_worker, else none).
        Commands start only what they need; close() stops and joins every one before the database closes."""
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._swap_lock = threading.Lock()
        settings.prepare_data_dir()
        self.db: Database = open_database(settings.db_path)
        try:
            release_holds(self.db)  # this process owns the file now: no paid call of an earlier one is in flight
            self.settings = self._with_overrides(settings)
            self.prices = PriceTable.load(self.local_prices if self.local_prices.exists() else self.settings.prices_file)
            channels.ensure_demo_channel(self.db)
            self.access = AccessDesk(self.db, self.settings.data_dir)
            self.tokens = TokenDesk(self.db, self.access)
            self.youtube = YouTubeDesk(self.db, self.settings)
            self.youtube.accounts.require_key_if_tokens()
        except BaseException:
            self.db.close()  # a workbench that cannot start leaves the file free
            raise
        self.worker = Worker(self.settings, self.db, self.prices, lease=lease, youtube=self.youtube.publisher,
                             embedder=lambda: self.trends.embedder("cpu"))
        self.snapshots = SnapshotWriter(self.db, self.settings.data_dir / "snapshots", snapshot_s)
        self.trends = TrendDesk(self.db, self.worker.lease)
        self.review = ReviewDesk(self.db, self.settings, self.worker, self.youtube.publisher)
        self.webhooks = WebhookDesk(self.db, self.settings, self.settings.data_dir)
        self.webhook_dispatcher = WebhookDispatcher(self.db, self.settings, self.webhooks)
        self._scheduler_stop = threading.Event()
        self._maintenance = threading.RLock()  # a restore, a backup or a schedule round: one at a time
        self._maintenance_on = threading.Event()  # set while restoring: scheduler and backups hold off
        self.restore_wait_s = 120.0
        wanted = set(self.SERVICES if start_worker else ()) if services is None else set(services)
        unknown = wanted - set(self.SERVICES)
        if unknown:
            raise ValueError(f"Unknown services {sorted(unknown)}: use {', '.join(self.SERVICES)}.")
        if "worker" in wanted:
            self.worker.start()
        if "snapshots" in wanted:
            self.snapshots.start()
        if "webhooks" in wanted:  # fans out what an earlier process emitted but never delivered, first
            self.webhook_dispatcher.start()
        if "scheduler" in wanted:
            thread = threading.Thread(target=self._schedule_loop, name="ytempire-schedule", daemon=True)
            thread.start()
            self._threads.append(thread)
        if "trends" in wanted and self.settings.bootstrap_trends:
            self.prepare_trends(background=True)

    def prepare_trends(self, background: bool = False, topics: bool = True) -> list[str]:
        """First start: load the bundled trending data, then cluster topics where none exist yet or where they cover
        only part of the videos (a first pass whose full pass did not end, videos imported since). In the background,
        a country with many titles to embed gets quick first topics from its latest videos (TrendDesk), and every
        embedding is cached under the data directory, so a second start skips embedding."""
        reports = [] if self.trends.has_data() else self.trends.import_bundled()
        known = features.countries(self.db) if topics else []
        missing = [c for c in known if self.trends.needs_topics(c)]
        renamed = [c for c in known if c not in missing and self.trends.word_list_labels(c)]  # named before phrases
        if missing or renamed:
            if background:
                self.trends.compute_topics_in_background(missing, relabel=renamed)
            else:
                for country in renamed:
                    self.trends.relabel(country)
                for country in missing:
                    self.trends.compute_topics(country)
        return [r.summary() for r in reports]

    def _schedule_loop(self) -> None:
        while not self._scheduler_stop.wait(60):
            self.tick()

    def tick(self) -> str:
        """One round of the background schedule: due schedule slots, then the daily backup. Never while a
        restore runs (it holds the maintenance lock): the round is skipped and the next one catches up."""
        if not self._maintenance.acquire(blocking=False):
            return "skipped: a restore is running"
        try:
            from pipeline.youtube.schedule import Scheduler
            try:
                Scheduler(self).tick()
            except Exception:  # noqa: BLE001 - the loop must survive; slots record their own errors
                log.exception("scheduler tick failed")
            try:
                self.daily_backup()
            except Exception:  # noqa: BLE001 - a failed backup must not stop the schedule; it is retried next tick
                log.exception("daily backup failed")
            return "done"
        finally:
            self._maintenance.release()

    def close(self) -> None:
        """Stop every background thread and wait for it (running jobs stop at a checkpoint and stay resumable),
        then close the database: nothing is left writing when the process ends."""
        if self._closed:
            return
        self._closed = True
        self._scheduler_stop.set()
        self.trends.stop()
        self.snapshots.stop()
        self.webhook_dispatcher.stop()
        self.worker.stop(wait=True)
        for thread in self._threads:
            thread.join()  # a round in progress (a daily backup) finishes first
        self.trends.wait(timeout=60)
        alive = [t.name for t in self._threads if t.is_alive()] + self.trends.alive() + \
            (["webhooks"] if self.webhook_dispatcher.running else [])
        if alive or self.worker.running:
            log.error("not closing the database: %s still running", ", ".join(alive) or "the worker")
            return
        self.db.close()

    def acting(self, actor: Actor, owns: bool = False) -> Workbench:
        """This Workbench as ``actor`` uses it: every action checks their role and workspace, every read through
        ``.db`` sees only their workspaces, and the desks it hands out are guarded (pipeline.access.views).
        Shares everything else (the database, the worker, the threads) with this one; closing it does nothing."""
        import copy

        from pipeline.access.views import guard_desks

        view = copy.copy(self)
        view.actor = actor
        view._core_wb = self.core
        view._closed = True  # only the process's own Workbench closes the shared database
        view.db = ScopedDb(self.raw_db, actor.scope)
        guard_desks(view, self)
        if owns:  # a command's one Workbench: closing the view closes it
            view.close = self.close  # type: ignore[method-assign]
        return view

    _core_wb: Workbench | None = None

    @property
    def core(self) -> Workbench:
        """The process's own Workbench (the engine's own calls use its desks, unguarded)."""
        return self._core_wb or self

    @property
    def raw_db(self):
        return getattr(self.db, "raw", self.db)

    def workspace_settings(self, workspace_id: int | None = None) -> dict:
        """The per-video cap and daily budgets in force in a workspace (its own, else the installation's)."""
        ws = workspace_id if workspace_id is not None else self.actor.home()
        if not self.actor.sees(ws):
            from pipeline.access.actor import NotInWorkspace
            raise NotInWorkspace(f"There is no workspace {ws} among yours.")
        row = self.raw_db.query_one("SELECT cap_usd, daily_budgets FROM workspaces WHERE id = ?", [ws])
        own = json.loads(row[1]) if row and row[1] else {}
        cap = row[0] if row and row[0] is not None else self.settings.cap_usd
        return {"cap_usd": float(cap), "own_cap": bool(row and row[0] is not None), "daily_budgets": own,
                "installation_budgets": dict(self.settings.daily_budgets)}

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- actions -------------------------------------------------------------------------------
    def validate_request(self, req: VideoRequest) -> tuple[dict, int, str, dict]:
        """Check a request at the edge; returns (channel, duration, format, brief) or raises with what to fix."""
        topic = check_text(req.topic, req.outline)
        if len(req.related_titles) > MAX_RELATED or len(req.tags) > MAX_RELATED \
                or any(len(str(x)) > 300 for x in [*req.related_titles, *req.tags]):
            raise BriefError(f"Give at most {MAX_RELATED} related titles and {MAX_RELATED} tags, each at most 300 characters.")
        if req.channel not in (None, ""):
            channel = channels.get_channel(self.db, req.channel)
        else:
            found = channels.list_channels(self.db)
            if not found:
                raise channels.ChannelError("This workspace has no channel yet: create one on the Channels page "
                                            "(or with `python -m pipeline channels add`) first.")
            channel = next((c for c in found if c.get("workspace_id") == self.actor.home()), found[0])
        fmt = req.format or channel["default_format"]
        duration = _seconds(req.duration_s if req.duration_s is not None else channel["default_duration"])
        validate_duration(duration, fmt)
        for kind, chain in (("writer", req.writer or channel["writer"]), ("voice", req.voice or channel["voice"])):
            usable = self.check_chain(kind, chain)
        from pipeline.languages import chain_problem
        problem = chain_problem(" > ".join(usable), channel.get("language"))  # of the voices usable now
        if problem:  # said before anything is queued or paid for
            raise ConfigError(problem)
        if req.visuals:
            if len(req.visuals) > 300:
                raise ConfigError("The visuals chain is at most 300 characters.")
            for item in chain_items(req.visuals):
                parse_item("visuals", item)
        if req.cap_usd is not None and not (isinstance(req.cap_usd, (int, float)) and 0 <= req.cap_usd <= 1000):
            raise ConfigError(f"The cap must be a number of dollars between 0 and 1000 a video; got {req.cap_usd!r}.")
        cap = self.workspace_settings(channel.get("workspace_id"))["cap_usd"]
        if req.cap_usd is not None and req.cap_usd > cap and not self.actor.can("admin"):
            raise ConfigError(f"The cap ${req.cap_usd:.2f} is above this workspace's ${cap:.2f} a video: only an owner "
                              "can raise it (Settings).")
        if req.playlist_id and not re.fullmatch(r"[A-Za-z0-9_-]{2,64}", req.playlist_id):
            raise ConfigError(f"{req.playlist_id[:80]!r} is not a YouTube playlist id (letters, digits, - and _).")
        if req.privacy not in ("private", "unlisted", "public"):
            raise ConfigError("Privacy must be private, unlisted or public.")
        if req.publish_at:
            from datetime import datetime
            try:
                if len(req.publish_at) > 40:
                    raise ValueError(req.publish_at)
                datetime.fromisoformat(req.publish_at.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ConfigError(f"publish_at must be an ISO time such as 2026-12-01T15:00:00Z, not "
                                  f"{req.publish_at[:40]!r}.") from exc
        brief = {"outline": req.outline or "", "related_titles": list(req.related_titles), "tags": list(req.tags),
                 "privacy": req.privacy, "cap_usd": req.cap_usd if req.cap_usd is not None else cap}
        if req.publish_at:
            brief["publish_at"] = req.publish_at
        if req.playlist_id:
            brief["playlist_id"] = req.playlist_id
        if req.writer:
            brief["writer"] = req.writer
        if req.voice:
            brief["voice"] = req.voice
        if req.visuals:
            brief["visuals"] = req.visuals
        if req.captions is not None:
            if req.captions not in channels.CAPTION_STYLES:
                raise ConfigError(f"Caption style must be one of {', '.join(channels.CAPTION_STYLES)} "
                                  f"(not {str(req.captions)[:40]!r}).")
            brief["captions"] = req.captions
        if not req.music:
            brief["music"] = False
        if req.review is not None:
            if req.review not in channels.REVIEW_MODES:
                raise ConfigError(f"Review must be one of {', '.join(channels.REVIEW_MODES)} "
                                  f"(not {str(req.review)[:40]!r}).")
            brief["review"] = req.review
        if req.sources or (req.source_text or "").strip():
            from pipeline.sources import load_sources
            # Read (and fetched) now, at the edge: a bad file or an unreachable URL is said before anything is
            # queued, and the job keeps the text even if the file moves or the page changes.
            brief["sources"] = [d.to_dict() for d in load_sources(list(req.sources), req.source_text or None,
                                                                  allow_private=self.settings.sources_allow_private)]
        return channel, duration, fmt, {**brief, "topic": topic}

    def check_chain(self, kind: str, chain: str) -> list[str]:
        """Every item must be a known provider with prices; at least one must be usable now. Returns the usable."""
        usable, reasons = [], []
        for item in chain_items(chain):
            provider = make(kind, item, self.settings)
            self.prices.estimate(provider.estimate(60, 150))  # an unpriced model is an error now, not at spend time
            why = provider.check(self.settings)
            if why:
                reasons.append(f"{item}: {why}")
            else:
                usable.append(item)
        if not usable:
            raise ConfigError(f"No {kind} in the chain '{chain}' can run: {'; '.join(reasons)}.")
        return usable

    def enqueue(self, req: VideoRequest) -> int:
        return self.submit(req)[0]

    @acts("make", audit_as="job.make", target=lambda a, r: f"job {r[0]}: {a['req'].topic[:120]}")
    def submit(self, req: VideoRequest) -> tuple[int, bool]:
        """Queue a video; returns (job id, created). A request key seen before returns its job, not a new one."""
        if self._maintenance_on.is_set():
            raise ConfigError("A restore is replacing the data right now: queue the video again in a minute.")
        channel, duration, fmt, brief = self.validate_request(req)
        topic = brief.pop("topic")
        job_id, created = jobs.submit_job(self.db, channel["id"], topic, duration, fmt, brief,
                                          request_key=self._request_key(req.request_key))
        if created:
            self.worker.wake()
        return job_id, created

    @staticmethod
    def _request_key(key: str | None) -> str | None:
        if key is None:
            return None
        key = str(key).strip()
        if not key or len(key) > MAX_REQUEST_KEY_CHARS:
            raise ConfigError(f"An idempotency key is 1 to {MAX_REQUEST_KEY_CHARS} characters.")
        return key

    @acts("make")
    def enqueue_batch(self, topics: list[str], request_key: str | None = None,
                      **common: object) -> tuple[list[int], list[str]]:
        """Queue one job per non-empty line; returns (job ids, errors per rejected line). With a request key,
        submitting the same batch again (a double click) queues nothing new."""
        if len(topics) > MAX_BATCH_LINES:
            raise BriefError(f"The batch has {len(topics)} lines: queue at most {MAX_BATCH_LINES} at a time.")
        ids, errors = [], []
        seen: dict[str, int] = {}
        for n, line in enumerate(topics, start=1):
            if not line.strip():
                continue
            folded = " ".join(line.split()).casefold()
            if len(folded) < MIN_TOPIC_CHARS:
                errors.append(f"line {n}: {line.strip()!r} is too short to be a topic (at least {MIN_TOPIC_CHARS} "
                              "characters): write what the video is about.")
                continue
            if folded in seen:
                errors.append(f"line {n}: the same topic as line {seen[folded]}, so it was not queued twice.")
                continue
            seen[folded] = n
            key = f"{request_key}:{n}" if request_key else None
            try:
                ids.append(self.submit(VideoRequest(topic=line, request_key=key, **common))[0])  # type: ignore[arg-type]
            except (BriefError, ConfigError, channels.ChannelError, UnknownProvider) as exc:
                errors.append(f"line {n}: {exc}")
        return ids, errors

    def make_from_topic(self, country: str, topic_id: int, **request: object) -> int:
        """Queue a video on a trending topic: the writer gets the topic with its related titles and tags."""
        return self.submit(self.topic_request(country, topic_id, **request))[0]

    def topic_request(self, country: str, topic_id: int, **request: object) -> VideoRequest:
        """The request for a video on a trending topic (its related titles and tags in the brief)."""
        brief = self.trends.brief(country, topic_id)
        return VideoRequest(topic=brief["topic"], related_titles=brief["related_titles"][:MAX_RELATED],
                            tags=brief["tags"][:MAX_RELATED], **request)  # type: ignore[arg-type]

    @acts("channels", audit_as="channel.create", target=lambda a, r: f"{r}: {a['data'].name.strip()[:80]}")
    def create_channel(self, data: channels.ChannelInput) -> int:
        """A new channel in the acting user's current workspace."""
        return channels.create_channel(self.raw_db, data, workspace_id=self.actor.home())

    @acts("channels", channel="channel_id", audit_as="channel.update")
    def update_channel(self, channel_id: int, data: channels.ChannelInput) -> None:
        channels.update_channel(self.raw_db, channel_id, data)

    @acts("channels", channel="channel_id", audit_as="schedule.change",
          target=lambda a, r: f"channel {a['channel_id']}: {a['times']} {a['tz']}")
    def save_schedule(self, channel_id: int, times: str, tz: str, country: str | None, duration_s: int,
                      fmt: str, privacy: str, enabled: bool = True) -> None:
        from pipeline.youtube.schedule import save_schedule
        save_schedule(self.raw_db, channel_id, times, tz, country, duration_s, fmt, privacy, enabled)

    @acts("channels", channel="channel", audit_as="channel.disconnect")
    def disconnect_channel(self, channel: int | str, project: str | None = None) -> list[str]:
        """Revoke the channel's YouTube tokens at Google (when reachable) and delete them here."""
        found = channels.get_channel(self.db, channel)
        notes = self.core.youtube.accounts.disconnect(found["id"], project)
        if not notes:
            raise channels.ChannelError(f"{found['name']} is not connected to YouTube"
                                        + (f" through project {project}" if project else "") + ".")
        return notes

    @acts("channels", channel="channel", audit_as="channel.delete")
    def delete_channel(self, channel: int | str) -> list[str]:
        """Delete a channel: its YouTube tokens are revoked at Google (when reachable) and deleted first.
        Refused while it has queued or running jobs. Returns what happened to each token."""
        found = channels.check_deletable(self.db, channels.get_channel(self.db, channel)["id"])
        notes = self.core.youtube.accounts.disconnect(found["id"])
        channels.delete_channel(self.db, found["id"])
        return notes

    @acts("make", job="job_id", audit_as="video.delete")
    def delete_video(self, job_id: int) -> str:
        """Delete a finished job's files (video, thumbnail, captions, every artifact in its folder) and take it
        off the Library; its cost ledger rows, events and job row stay, so what it cost is never lost. Refused
        while the job is queued or running. A copy already on YouTube or in the outbox is not touched."""
        import shutil

        job = jobs.get_job(self.db, job_id)
        if job["status"] in ("queued", "running"):
            raise ConfigError(f"Job #{job_id} is {job['status']}: cancel it, or let it finish, before deleting it.")
        if job["status"] == "review":  # waiting for a person who chose to delete it instead
            jobs.request_cancel(self.db, job_id)
        video = self.db.query_dicts("SELECT publish_state, publish_ref FROM videos WHERE job_id = ?", [job_id])
        folder = self.settings.jobs_dir / str(job_id)
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0
        with self.db.write() as cur:
            cur.execute("DELETE FROM artifacts WHERE job_id = ?", [job_id])
            cur.execute("DELETE FROM job_scenes WHERE job_id = ?", [job_id])
            cur.execute("UPDATE videos SET video_path = NULL, thumbnail_path = NULL, publish_state = 'deleted' "
                        "WHERE job_id = ?", [job_id])
            jobs._event(cur, job_id, None, "deleted", f"files deleted ({size / 1e6:.1f} MB); the cost ledger is kept")
        shutil.rmtree(folder, ignore_errors=True)  # after the rows: a crash leaves files, never rows to nothing
        said = f"Deleted job #{job_id}'s files ({size / 1e6:.1f} MB). Its costs stay in the ledger."
        state = video[0]["publish_state"] if video else None
        if state in ("published", "scheduled"):
            said += f" The copy on YouTube ({video[0]['publish_ref']}) is not deleted: remove it in YouTube Studio."
        elif state == "outbox":
            said += f" The outbox copy in {video[0]['publish_ref']} is kept."
        return said

    @acts("make", job="job_id", audit_as="job.cancel")
    def cancel(self, job_id: int) -> str:
        return self.worker.cancel(job_id)

    @acts("make", job="job_id", audit_as="job.retry")
    def retry(self, job_id: int) -> None:
        jobs.retry_job(self.db, job_id)
        self.worker.wake()

    BULK = ("retry", "cancel", "delete", "publish", "approve")

    @acts("read", job="job_ids")
    def bulk(self, action: str, job_ids: list[int], **options: object) -> list[tuple[int, bool, str]]:
        """One action on many jobs (the Library's and the queue's selections): each is tried on its own, so one
        refusal stops nothing else. Returns (job id, done, what happened) for each, in the order given."""
        if action not in self.BULK:
            raise ConfigError(f"Unknown bulk action {action!r}: use one of {', '.join(self.BULK)}.")
        if len(job_ids) > MAX_BULK:
            raise ConfigError(f"Select at most {MAX_BULK} videos at once.")
        from pipeline.review import PublishRequest, ReviewError
        results = []
        for job_id in dict.fromkeys(int(j) for j in job_ids):
            try:
                if action == "retry":
                    self.retry(job_id)
                    said = "queued again"
                elif action == "cancel":
                    said = "cancelled" if self.cancel(job_id) == "cancelled" else "stopping at the next checkpoint"
                elif action == "delete":
                    said = self.delete_video(job_id)
                elif action == "approve":
                    self.review.approve_script(job_id)
                    said = "script approved: queued"
                else:
                    req = PublishRequest(target=str(options.get("target", "youtube")),
                                         privacy=str(options.get("privacy", "private")), keep_schedule=True)
                    self.review.publish(job_id, req)
                    said = f"queued to publish to {'YouTube' if req.target == 'youtube' else 'the outbox'}"
                results.append((job_id, True, said))
            except (ConfigError, ReviewError, jobs.InvalidTransition, jobs.JobNotFound) as exc:
                results.append((job_id, False, str(exc)))
        return results

    @acts("read")
    def estimate(self, req: VideoRequest) -> tuple[list[dict], Decimal]:
        """The provider chain of each stage and its estimated cost, before anything is spent."""
        channel, duration, fmt, brief = self.validate_request(req)
        words = sized_words(duration, self.settings.speaking_rate_wpm, max(2, round(duration / 25)))
        rows = []
        visuals = brief.get("visuals") or channel.get("visuals") or self.settings.visuals
        for stage, kind, chain in (("script", "writer", brief.get("writer") or channel["writer"]),
                                   ("voice", "voice", brief.get("voice") or channel["voice"]),
                                   ("visuals", "visuals", "slides"),
                                   ("publish", "publisher", self.settings.publisher)):
            first = self.check_chain(kind, chain)[0] if kind in ("writer", "voice") else first_in_chain(chain)
            provider = make(kind, first, self.settings)
            for u in provider.estimate(duration, words):
                rows.append(self._estimate_row(stage, visuals if stage == "visuals" else chain, u))
        rows += self._image_estimate(visuals, duration, FORMATS[fmt])
        rows.append(self._estimate_row("render", "ffmpeg", Usage("ffmpeg", "libx264", "video_seconds", float(duration))))
        rows.append(self._estimate_row("thumbnail", "thumbnail", Usage("thumbnail", "pillow-v1", "images", 1.0)))
        rows.append(self._estimate_row("quality", "quality", Usage("quality", "checks-v1", "videos", 1.0)))
        order = list(jobs.STAGES)
        rows.sort(key=lambda r: order.index(r["stage"]))
        return rows, sum((Decimal(str(r["usd"])) for r in rows), Decimal(0))

    def _image_estimate(self, chain: str, duration: int, size: tuple[int, int]) -> list[dict]:
        """Generated images in the visuals chain: the most they can cost, one a scene (every scene at its
        average length, none found in the library or stock first)."""
        for item in chain_items(chain):
            if parse_item("visuals", item)[0] == "openai-image":
                source = make("visuals", item, self.settings)
                if source.check(self.settings) is not None:
                    return []
                scenes = max(1, math.ceil(duration / ((self.settings.scene_min_s + self.settings.scene_max_s) / 2)))
                return [self._estimate_row("visuals", chain, u) for u in source.estimate(scenes, size)]
        return []

    def _estimate_row(self, stage: str, chain: str, usage: Usage) -> dict:
        priced = self.prices.price(usage)
        return {"stage": stage, "chain": chain, "provider": usage.provider, "model": usage.model, "unit": usage.unit,
                "quantity": usage.quantity, "usd": float(priced.usd)}

    # -- settings, providers, backup ---------------------------------------------------------
    def _with_overrides(self, settings: Settings) -> Settings:
        rows = self.db.query("SELECT key, value FROM app_settings")
        overrides = {k: json.loads(v) for k, v in rows if k in EDITABLE}
        if not overrides:
            return settings
        try:
            return Settings.model_validate({**settings.model_dump(), **overrides})
        except ValidationError:
            log.warning("ignoring invalid stored settings %s", overrides)
            return settings

    @acts("admin", audit_as="settings.change", target=lambda a, r: json.dumps(a["changes"], default=str)[:500])
    def update_settings(self, changes: dict) -> list[str]:
        """Validate, store and apply operator changes; returns notes (e.g. what needs a restart)."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ConfigError(f"These settings cannot be changed here: {', '.join(sorted(unknown))}.")
        try:
            checked = Settings.model_validate({**self.settings.model_dump(), **changes})
        except ValidationError as exc:
            raise ConfigError("; ".join(f"{EDITABLE.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}"
                                        for e in exc.errors())) from exc
        notes = []
        with self.db.write() as cur:
            for key in changes:
                value = getattr(checked, key)
                cur.execute("INSERT INTO app_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                            " SET value = excluded.value, updated_at = now()", [key, json.dumps(value)])
                if key in RESTART_NEEDED and value != getattr(self.settings, key):
                    notes.append(f"{EDITABLE[key]}: saved; restart the workbench to apply it.")
                else:
                    setattr(self.settings, key, value)  # the worker shares this object: applies to the next stage
        return notes

    @property
    def local_prices(self) -> Path:
        """The operator's edited price table (Settings), which wins over the bundled one."""
        return self.settings.data_dir / "prices.local.json"

    @acts("admin", audit_as="prices.change", target=lambda a, r: r)
    def update_prices(self, rows: list[dict]) -> str:
        """Save an edited price table as a new dated version and use it from now on; returns the version."""
        from datetime import date
        prices: dict = {}
        for r in rows:
            provider, model, unit = (str(r.get(k) or "").strip() for k in ("provider", "model", "unit"))
            if not provider or not model or not unit:
                raise ConfigError("Every price needs a provider, a model and a unit.")
            try:
                value = float(r.get("usd_per_unit"))
            except (TypeError, ValueError):
                raise ConfigError(f"The price of {provider}/{model} per {unit} must be a number.") from None
            if value < 0:
                raise ConfigError(f"The price of {provider}/{model} per {unit} cannot be negative.")
            prices.setdefault(provider, {}).setdefault(model, {})[unit] = value
        previous = self.prices.version.split("+")[0]
        version = f"{date.today().isoformat()}+local.{int(time.time())}"
        body = {"version": version, "currency": "USD", "based_on": previous,
                "note": "Edited in Settings. Delete this file to go back to the bundled price table.", "prices": prices}
        tmp = self.local_prices.with_suffix(".partial")
        tmp.write_text(json.dumps(body, indent=2), encoding="utf-8")
        table = PriceTable.load(tmp)  # validates it the same way as at start
        tmp.replace(self.local_prices)
        self.prices = self.worker.prices = table
        return version

    def price_rows(self) -> list[dict]:
        return [{"provider": p, "model": m, "unit": u, "usd_per_unit": v}
                for p, models in self.prices.prices.items() for m, units in models.items() for u, v in units.items()]

    # -- scenes ------------------------------------------------------------------------------------
    @acts("read", job="job_id")
    def scenes(self, job_id: int) -> list[dict]:
        """The job's scenes as the Library shows them (the chosen visual, its source, score and narration)."""
        return self.db.query_dicts("SELECT * FROM job_scenes WHERE job_id = ? ORDER BY idx", [job_id])

    @acts("make", job="job_id", audit_as="scene.swap", target=lambda a, r: f"job {a['job_id']} scene {a['index']}")
    def swap_scene(self, job_id: int, index: int, candidate: dict | None = None,
                   library_path: str | None = None) -> int:
        """Show another visual in one scene (one of its ranked alternatives, or a file of the media library),
        then render again: only the render and the stages after it run, and the ledger gets only what the new
        visual cost (a generated picture). Returns the job id, queued.

        Refused, before anything is fetched or paid: while the job is queued or running, once any upload
        to YouTube has begun (YouTube takes no new file for a video), for a visual another scene of this
        video shows or (stock and generated visuals) one of the channel's last videos used (the repetition
        guard; the operator's own library files may come back), and for anything
        that is not one of the scene's own alternatives or an indexed library file."""
        with self._swap_lock:  # two swaps at once: the second sees the job queued and is refused
            return self._swap_scene(job_id, index, candidate, library_path)

    def _swap_scene(self, job_id: int, index: int, candidate: dict | None, library_path: str | None) -> int:
        from pipeline.media.cache import MediaCache
        from pipeline.media.library import LibrarySource
        from pipeline.ranking import recent_sources
        from pipeline.scene_stages import _still
        from pipeline.visuals import candidate_from

        job = jobs.get_job(self.db, job_id)
        if job["status"] in jobs.ACTIVE:
            raise ConfigError(f"Job {job_id} is {job['status']}: wait until it has finished, then swap the scene.")
        video = self.db.query_one("SELECT publish_state FROM videos WHERE job_id = ?", [job_id])
        if (video and video[0] in ("published", "scheduled")) or self.core.youtube.publisher.sent(job_id):
            raise ConfigError(f"Job {job_id} has gone to YouTube already (or its upload has begun), and YouTube "
                              "does not take a new file for a video: make a new video to change its pictures.")
        found = jobs.artifacts(self.db, job_id).get("scenes")
        scenes_json = job_file(found, self.settings.jobs_dir, job_id) if found else None
        if scenes_json is None:
            raise ConfigError(f"Job {job_id} has no scene plan to change (made before scenes, or not that far yet).")
        before = scenes_json.read_text(encoding="utf-8")
        data = json.loads(before)
        rows = data["scenes"]
        row = next((r for r in rows if r["idx"] == index), None)
        if row is None:
            raise ConfigError(f"Job {job_id} has no scene {index}.")
        if (candidate is None) == (library_path is None):
            raise ConfigError("Choose one new visual: an alternative of the scene, or a file of the media library.")
        if library_path is not None:
            hit = self.db.query_one("SELECT folder, path, kind, width, height, duration_s, caption FROM media_files"
                                    " WHERE path = ?", [str(library_path)])
            if hit is None:
                raise ConfigError(f"{library_path} is not in the media library: add its folder in Settings.")
            chosen, score = LibrarySource._candidate(*hit, similarity=0.0), None
        else:
            wanted = (candidate.get("provider"), candidate.get("source_id"))
            stored = next((c for c in row.get("candidates") or []
                           if (c.get("provider"), c.get("source_id")) == wanted), None)
            if stored is None:
                raise ConfigError("That visual is not one of this scene's alternatives.")
            chosen, score = candidate_from(stored), stored.get("score")  # what was offered, not what was sent
        key = (chosen.provider, chosen.source_id)
        elsewhere = [r["idx"] for r in rows if r["idx"] != index and (r.get("provider"), r.get("source_id")) == key]
        if elsewhere and chosen.provider != "slides":
            raise ConfigError(f"Scene {elsewhere[0]} of this video shows that {chosen.kind} already: a video never "
                              "shows the same footage twice.")
        if chosen.provider != "library" and key in recent_sources(self.db, job["channel_id"],
                                                                    self.settings.repeat_window, exclude_job=job_id):
            raise ConfigError(f"One of this channel's last {self.settings.repeat_window} videos used that "
                              f"{chosen.kind}: choose another so the channel does not repeat itself.")
        source = LibrarySource(self.db) if chosen.provider == "library" else make("visuals", chosen.provider,
                                                                                  self.settings)
        cache = MediaCache(self.settings.media_dir)
        estimate = getattr(source, "estimate", None)
        hold, guard = None, self.worker._budget(job)
        if estimate is not None and cache.get(chosen.provider, chosen.source_id) is None:  # made before: free
            hold, refusal = guard.reserve("visuals", estimate(1, FORMATS[job["format"]]))
            if refusal:
                raise ConfigError(f"Not within this video's budget: {refusal}.")
        try:
            path, usage = source.fetch(chosen, cache)
        except BaseException as exc:
            guard.settle(hold, "visuals", list(getattr(exc, "usage", None) or []))
            raise
        guard.settle(hold, "visuals", usage)
        still = _still(chosen.kind, Path(path), scenes_json.parent / "scenes" / f"{index:03d}-{chosen.provider}.jpg")
        row.update(provider=chosen.provider, source_id=chosen.source_id, kind=chosen.kind, path=str(path),
                   source_url=chosen.page_url or chosen.url, score=score, licence=chosen.licence, author=chosen.author,
                   author_url=chosen.author_url, attribution_required=chosen.attribution_required, still=str(still))
        write_atomically(scenes_json, json.dumps(data, indent=1, ensure_ascii=False))
        try:
            jobs.rerun_from(self.db, job_id, "render", f"scene {index} now shows {chosen.provider} "
                            f"{chosen.source_id} (chosen by the operator): rendering again", scenes=rows)
        except BaseException:
            write_atomically(scenes_json, before)  # the job was not queued: it keeps the scenes it was made with
            raise
        self.worker.wake()
        return job_id

    # -- the media library -------------------------------------------------------------------------
    @acts("channels", channel="channel_id", audit_as="channel.music")
    def set_music_folder(self, channel_id: int, folder: str | Path | None) -> str:
        """Make a folder the channel's background music (indexed, again only what changed), or none with None."""
        from pipeline.media.music import MusicError, clear_music_folder, set_music_folder
        channels.get_channel(self.db, channel_id)
        if folder is None or not str(folder).strip():
            clear_music_folder(self.db, channel_id)
            return "No background music for this channel from now on (the files are untouched)."
        if len(str(folder)) > 1000:
            raise ConfigError("Give the folder's path (at most 1,000 characters).")
        self._outside_data_dir(folder)
        try:
            report = set_music_folder(self.db, channel_id, Path(str(folder).strip()).expanduser())
        except MusicError as exc:
            raise ConfigError(str(exc)) from exc
        return report.summary() if report else "No background music for this channel."

    @acts("channels", audit_as="media.add", target=lambda a, r: a["folder"])
    def add_media_folder(self, folder: str | Path) -> str:
        """Index a folder of the operator's pictures and clips (again: incrementally); returns the summary."""
        return self._index_media(folder, self.actor.home())

    def _outside_data_dir(self, folder: str | Path) -> None:
        """A media or music folder is the operator's own files, never the workbench's (another workspace's jobs)."""
        resolved = Path(str(folder).strip()).expanduser().resolve()
        data = self.settings.data_dir.resolve()
        if resolved == data or data in resolved.parents or resolved in data.parents:
            raise ConfigError(f"{folder} is (or holds) the workbench's data directory: choose a folder of your own "
                              "pictures, clips or music outside it.")

    def _index_media(self, folder: str | Path, workspace_id: int) -> str:
        from pipeline.media.library import LibraryError, index_folder
        if not str(folder).strip() or len(str(folder)) > 1000:
            raise ConfigError("Give the folder's path (at most 1,000 characters).")
        self._outside_data_dir(folder)
        if not Path(folder).expanduser().is_dir():  # before the model is loaded for nothing
            raise ConfigError(f"{folder} is not a folder this workbench can read: give the path of a folder of "
                              "pictures and clips on this machine.")
        try:
            embedder = self.core.trends.embedder("cpu")
        except Exception as exc:  # noqa: BLE001 - indexed without embeddings; a later pass fills them in
            log.warning("indexing without the embedding model: %s", exc)
            embedder = None
        try:
            return index_folder(self.raw_db, Path(folder), embedder, workspace_id=workspace_id).summary()
        except LibraryError as exc:
            raise ConfigError(str(exc)) from exc

    @acts("channels")
    def reindex_media(self) -> list[str]:
        """Index every media folder again (only what changed is read)."""
        # Each folder into its own workspace (the owner on "All workspaces" reindexes every one).
        return [self._index_media(path, ws) for path, ws in
                self.db.query("SELECT path, workspace_id FROM media_folders ORDER BY path")]

    @acts("channels", audit_as="media.remove", target=lambda a, r: a["folder"])
    def remove_media_folder(self, folder: str) -> int:
        from pipeline.media.library import remove_folder
        resolved = str(Path(folder).expanduser().resolve())
        if not self.db.query_one("SELECT 1 FROM media_folders WHERE path = ?", [resolved]):
            raise ConfigError(f"{folder} is not a media folder of this workspace.")
        return remove_folder(self.raw_db, folder)

    def providers(self) -> list[dict]:
        rows = provider_status(self.settings)
        from pipeline.media.library import LibrarySource
        why = LibrarySource(self.db, embedder=True).check(self.settings)  # the model loads only when searching
        for row in rows:
            if row["capability"] == "visuals" and row["provider"] == "library":
                row.update(usable=why is None, why_not=why or "")
        return rows

    @acts("admin", audit_as="backup.export", target=lambda a, r: r.name)
    def export_backup(self, dest: Path | None = None, automatic: bool = False, at: float | None = None) -> Path:
        """Write a backup (into the data directory's backups/ unless dest is given); returns its path.
        Its name carries the time it was taken (``at``, default now), which is how backups are ordered."""
        if dest is None:
            prefix = backup.AUTO_PREFIX if automatic else "ytempire-"
            stamp = datetime.fromtimestamp(at if at is not None else time.time(), timezone.utc).strftime("%Y%m%d-%H%M%S")
            dest = self.settings.backups_dir / f"{prefix}{stamp}.zip"
            n = 1
            while dest.exists():  # two in one second: never overwrite one
                n += 1
                dest = dest.with_name(f"{prefix}{stamp}-{n}.zip")
            private_dir(self.settings.backups_dir)
        with self._maintenance:  # never half through a restore
            return backup.export_backup(self.db, Path(dest), self.settings.data_dir)

    def backup_limit(self) -> int:
        return backup.size_limit(self.settings.db_path, self.settings.backup_max_mb)

    @acts("admin", audit_as="backup.restore", target=lambda a, r: a["source"].name if hasattr(a["source"], "name") else a["source"])
    def import_backup(self, source: Path, max_bytes: int | None = None) -> dict:
        """Restore a backup over everything. The worker and the scheduler are paused for the whole restore:
        running jobs are parked at their next checkpoint first, and nothing is claimed until it is done."""
        with self._maintenance:
            self._maintenance_on.set()
            try:
                if not self.worker.pause(timeout=self.restore_wait_s):
                    busy = ", ".join(map(str, self.worker.busy()))
                    raise backup.BackupError(f"Jobs {busy} did not stop within {self.restore_wait_s:.0f} s (a paid call "
                                             "in flight?): nothing was restored. Try again in a minute, or cancel them.")
                box = self.core.youtube.accounts.box
                manifest = backup.import_backup(self.db, Path(source), self.settings.data_dir,
                                                max_bytes or self.backup_limit(), box.open if box.ready else None)
                self._apply_stored_settings()
            finally:
                self._maintenance_on.clear()
                self.worker.resume()
        self.core.snapshots.refresh(force=True)
        return manifest

    def _apply_stored_settings(self) -> None:
        """After a restore, the restored Settings-page values apply at once (those that need a restart, then)."""
        overrides = {k: json.loads(v) for k, v in self.db.query("SELECT key, value FROM app_settings")
                     if k in EDITABLE and k not in RESTART_NEEDED}
        try:
            checked = Settings.model_validate({**self.settings.model_dump(), **overrides})
        except ValidationError:
            log.warning("ignoring invalid restored settings %s", overrides)
            return
        for key in overrides:
            setattr(self.settings, key, getattr(checked, key))

    def daily_backup(self, now: float | None = None) -> Path | None:
        """Write the automatic backup when the newest one is a day old (or there is none); prune the oldest."""
        if not self.settings.backup_daily or self._maintenance_on.is_set():
            return None
        newest = next((b for b in backup.list_backups(self.settings.backups_dir) if b.automatic), None)
        now = now if now is not None else time.time()
        if newest is not None and now - newest.created.timestamp() < 24 * 3600:
            return None
        path = self.export_backup(automatic=True, at=now)
        backup.prune(self.settings.backups_dir, self.settings.backup_keep)
        log.info("daily backup written: %s", path)
        return path

    # -- queue view --------------------------------------------------------------------------------
    @acts("read")
    def queue_eta(self):
        """Time left for every queued or running job, from this machine's stage history (``pipeline.eta``)."""
        import polars as pl

        from pipeline import eta
        # The whole machine's queue (the workers are shared by every workspace), then only this actor's rows.
        table = eta.queue_eta(self.raw_db, self.settings.workers)
        if self.actor.scope is None:
            return table
        mine = [r[0] for r in self.db.query("SELECT id FROM jobs WHERE status IN ('queued', 'running')")]
        return table.filter(pl.col("job_id").is_in(mine))

    @acts("make", job="job_ids", audit_as="job.retry", target=lambda a, r: ", ".join(map(str, a["job_ids"]))[:500])
    def retry_jobs(self, job_ids) -> list:
        """Queue each failed, cancelled or held job again; the others are reported, not changed
        (``job_views.Outcome`` per job)."""
        from pipeline import job_views
        outcomes = job_views.each(job_ids, lambda j: jobs.retry_job(self.db, j), job_views.retried_words)
        self.worker.wake()
        return outcomes

    @acts("make", job="job_ids")
    def cancel_jobs(self, job_ids) -> list:
        """Cancel each queued job, ask each running one to stop; the others are reported, not changed."""
        from pipeline import job_views
        return job_views.each(job_ids, self.cancel, job_views.cancelled_words)

    @acts("make", job="job_ids", audit_as="queue.clear", target=lambda a, r: f"{r} finished job(s) cleared")
    def clear_finished(self, job_ids=None) -> int:
        """Hide finished jobs (all, or those of ``job_ids``) from the queue view; returns how many."""
        from pipeline import job_views
        if job_ids is None and self.actor.scope is not None:  # "all finished" means all of this workspace's
            job_ids = [r[0] for r in self.db.query("SELECT id FROM jobs")]
        return job_views.clear_finished(self.raw_db, job_ids)


def _seconds(value: object) -> int:
    """A duration in whole seconds, or a ConfigError saying what a duration is (nan, inf, text...)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ConfigError(f"The duration must be a number of seconds (10 to 1800), not {value!r}.")
    return int(round(number))


def jobs_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
