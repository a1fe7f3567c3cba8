"""Publishing a video to YouTube exactly once: a resumable videos.insert that survives crashes.

The intent is recorded before anything is sent; the upload session URI (encrypted, it is a bearer
credential) before the first chunk; each outcome after. A restarted worker finds the session and
asks YouTube how much it has (``Content-Range: bytes */size``), then sends the rest: it never
creates a second video. A 5xx, a 429 or a dropped connection on a chunk or a status query never
gives the session up: the loop backs off and asks again, and when its tries run out the session
stays recorded for the next stage retry, worker restart or ``publish``; only 404/410 on the session
ends it. A job whose upload is recorded as done is checked against YouTube (``videos.list``)
instead of being uploaded again, so an upload the job forgot (a restored backup) is never doubled.
Then thumbnails.set and, optionally, playlistItems.insert. Every call is checked against the quota
ledger first and recorded in it after; what was charged rides on every error as its usage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.db import Database
from pipeline.progress import rising, share
from pipeline.providers.base import ProviderError, PublishResult, TransientError
from pipeline.youtube.accounts import Account, AccountError, Accounts, park_for
from pipeline.youtube.api import build_youtube, error_reason, status_of
from pipeline.youtube.quota import QuotaDeferred, QuotaLedger, next_reset

log = logging.getLogger("ytempire.youtube")


class PublishDeferred(TransientError):
    """Quota or a parked channel says not now: the job waits for the reset instead of failing."""

    def __init__(self, message: str, until: datetime):
        super().__init__(message, provider="youtube")
        self.until = until


@dataclass
class UploadRecord:
    job_id: int
    project_id: str
    session_uri: str | None  # decrypted
    status: str
    video_id: str | None
    job_uid: str | None = None
    finished_at: datetime | None = None


LOST = ("YouTube no longer knows job {job}'s upload session, and the whole file had been sent: the video may be on "
        "the channel already. Check YouTube Studio; to upload a new copy anyway, run "
        "`python -m pipeline publish {job} --reupload`.")
# Statuses after which YouTube has the video (its id is recorded).
HAS_VIDEO = ("uploaded", "thumbnail", "captions", "playlist", "done")
# The follow-up calls after the upload, in order; a record's status is the last one done, so a restart
# resumes after it and never repeats one.
FOLLOW_UPS = ("uploaded", "thumbnail", "captions", "playlist", "done")
# Answers on a chunk or a status query worth asking again about (the session stays).
RETRYABLE = (408, 429, 500, 502, 503, 504)
# The share of a publish's progress that is the video's bytes; the follow-up calls make up the rest.
UPLOAD_SHARE = 0.94


class _SessionAwareUpload:
    """Wraps MediaFileUpload so the session URI is saved the moment it exists, before the first chunk."""

    def __init__(self, path: Path, chunk: int, on_session):
        from googleapiclient.http import MediaFileUpload

        self.media = MediaFileUpload(str(path), mimetype="video/mp4", chunksize=chunk, resumable=True)
        self.request = None
        self._announced = False
        original = self.media.stream

        def stream():
            if not self._announced and self.request is not None and self.request.resumable_uri:
                self._announced = True
                on_session(self.request.resumable_uri)  # committed before any byte of video is sent
            return original()

        self.media.stream = stream


class YouTubePublisher:
    """Publisher for channels with a connected YouTube account."""

    name = "youtube"

    def __init__(self, db: Database, settings: Settings, accounts: Accounts, quota: QuotaLedger, sleep=time.sleep):
        self.db, self.settings, self.accounts, self.quota, self.sleep = db, settings, accounts, quota, sleep

    # -- records -------------------------------------------------------------------------------
    def record(self, job_id: int) -> UploadRecord | None:
        row = self.db.query_one("SELECT job_id, project_id, session_uri, status, video_id, job_uid, finished_at"
                                " FROM uploads WHERE job_id = ?", [job_id])
        if row is None:
            return None
        return UploadRecord(row[0], row[1], self._open_uri(row[2]), *row[3:])

    def sent(self, job_id: int) -> bool:
        """Whether YouTube has been sent this job's request body (an upload session exists, or the video):
        from then on the body (its publishAt included) cannot change."""
        record = self.record(job_id)
        return record is not None and (bool(record.session_uri) or record.status in HAS_VIDEO)

    def _seal_uri(self, uri: str) -> str:
        return self.accounts.box.seal({"uri": uri}).decode()

    def _open_uri(self, stored: str | None) -> str | None:
        if not stored:
            return None
        if stored.startswith(("http://", "https://")):  # written before session URIs were encrypted
            return stored
        return self.accounts.box.open(stored.encode())["uri"]

    def _save(self, job_id: int, **fields) -> None:
        if fields.get("session_uri"):
            fields["session_uri"] = self._seal_uri(fields["session_uri"])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.db.write() as cur:
            cur.execute(f"UPDATE uploads SET {sets} WHERE job_id = ?", [*fields.values(), job_id])

    def _job_uid(self, job_id: int) -> str | None:
        row = self.db.query_one("SELECT uid FROM jobs WHERE id = ?", [job_id])
        return row[0] if row else None

    # -- calls under the quota ledger ----------------------------------------------------------
    def _call(self, account: Account, method: str, fn, job_id: int | None = None):
        """Check quota, make the call, ledger its units and classify its errors."""
        import httplib2
        from googleapiclient.errors import HttpError

        try:
            self.quota.check(account.project_id, method)
        except QuotaDeferred as exc:
            raise PublishDeferred(str(exc), exc.until) from exc
        try:
            result = fn()
        except HttpError as exc:
            reason = error_reason(exc)
            self.quota.record(account.project_id, method, reason, account.channel_id, job_id)
            raise self._classify(account, method, reason, exc) from exc
        except (OSError, httplib2.HttpLib2Error) as exc:  # the network, not YouTube: try again later
            raise TransientError(f"YouTube {method} did not answer: {exc}", provider="youtube") from exc
        self.quota.record(account.project_id, method, "ok", account.channel_id, job_id)
        return result

    def _classify(self, account: Account, method: str, reason: str, exc) -> Exception:
        if reason == "quotaExceeded":
            until = next_reset()
            self.quota.park("project", account.project_id, until, "quotaExceeded from YouTube")
            return PublishDeferred(f"project {account.project_id} is out of quota until the Pacific midnight reset", until)
        if reason == "uploadLimitExceeded":
            until = park_for(24)
            self.quota.park("channel", str(account.channel_id), until, "uploadLimitExceeded: YouTube's upload cap")
            return PublishDeferred(f"channel {account.channel_id} reached YouTube's upload limit; parked for 24 h", until)
        if reason in ("rateLimitExceeded", "userRateLimitExceeded") or status_of(exc) >= 500:
            return TransientError(f"YouTube {method}: {reason} (will retry with backoff)", provider="youtube")
        if status_of(exc) in (401, 403) and reason in ("authError", "unauthorized", "forbidden", "401", "403",
                                                       "UNAUTHENTICATED", "PERMISSION_DENIED"):
            self.accounts.set_status(account.channel_id, account.project_id, "error", f"{method}: {reason}")
        return ProviderError(f"YouTube refused {method}: {reason}", provider="youtube")

    # -- publishing ----------------------------------------------------------------------------
    def publish(self, job_id: int, channel: dict, video: Path, thumbnail: Path, body: dict,
                captions: Path | None = None, playlist_id: str | None = None,
                progress: Callable[[float], None] | None = None) -> PublishResult:
        """Upload (or resume, or adopt) the job's video. Every error carries the quota it charged as ``usage``.

        ``progress`` (optional) hears the share of the video's bytes YouTube has acknowledged, after each chunk
        (and after a resumed session's status query), as :data:`UPLOAD_SHARE` of the whole; the follow-up
        calls (thumbnail, captions, playlist) make up the rest."""
        charged = [0]  # quota units this call charged, whatever happens
        try:
            return self._publish(job_id, channel, video, thumbnail, body, playlist_id, charged, captions,
                                 rising(progress))
        except BaseException as exc:
            if charged[0]:
                exc.usage = [*(getattr(exc, "usage", None) or []),  # type: ignore[attr-defined]
                             Usage("youtube", "data-api-v3", "quota_units", float(charged[0]))]
            raise

    def _publish(self, job_id: int, channel: dict, video: Path, thumbnail: Path, body: dict,
                 playlist_id: str | None, charged: list[int], captions: Path | None = None,
                 progress: Callable[[float], None] = rising(None)) -> PublishResult:
        uid = self._job_uid(job_id)
        existing = self.record(job_id)
        if existing and existing.job_uid and uid and existing.job_uid != uid:
            raise ProviderError(f"The upload record of job {job_id} belongs to another job (restored from another "
                                "installation?): refusing to guess. Retry the job to make a new one.", provider="youtube")
        if existing and existing.status == "done":
            return self._adopt(job_id, existing, body, charged)
        if existing and existing.status == "lost":
            raise ProviderError(LOST.format(job=job_id), provider="youtube")
        try:
            if existing is None or existing.status in ("intent", "failed") and not existing.session_uri:
                account = self.accounts.choose(channel["id"], "videos.insert")
                self._intent(job_id, uid, channel["id"], account.project_id, video, body)
            else:
                account = self.accounts.account(channel["id"], existing.project_id)  # resume where it started
        except AccountError as exc:
            raise self._deferred_or_error(channel["id"], exc) from exc
        record = self.record(job_id)
        video_id = record.video_id if record.status in HAS_VIDEO else None
        has_captions = captions is not None and Path(captions).exists() and Path(captions).stat().st_size > 0
        if video_id is None:
            follow = ["thumbnails.set"] + (["captions.insert"] if has_captions else []) + \
                (["playlistItems.insert"] if playlist_id else [])
            for method in follow:
                try:  # the follow-up calls must fit too: never leave a video without its thumbnail until tomorrow
                    self.quota.check(account.project_id, method)
                except QuotaDeferred as exc:
                    raise PublishDeferred(str(exc), exc.until) from exc
            video_id = self._upload(job_id, account, video, body, record.session_uri, charged,
                                    share(progress, 0.0, UPLOAD_SHARE))
        progress(UPLOAD_SHARE)
        done = FOLLOW_UPS.index(record.status) if record.status in FOLLOW_UPS else 0
        if done < FOLLOW_UPS.index("thumbnail") and thumbnail.exists():
            charged[0] += self._thumbnail(job_id, account, video_id, thumbnail)
        progress(UPLOAD_SHARE + (1 - UPLOAD_SHARE) / 3)
        if done < FOLLOW_UPS.index("captions") and has_captions:
            language = body.get("snippet", {}).get("defaultLanguage") or channel.get("language") or "en"
            charged[0] += self._captions(job_id, account, video_id, Path(captions), language)
        progress(UPLOAD_SHARE + 2 * (1 - UPLOAD_SHARE) / 3)
        if playlist_id and done < FOLLOW_UPS.index("playlist"):
            charged[0] += self._playlist(job_id, account, video_id, playlist_id)
        self._save(job_id, status="done", finished_at=datetime.now(timezone.utc).replace(tzinfo=None))
        progress(1.0)
        self.accounts.touch(channel["id"], account.project_id)
        return self._result(video_id, body, charged[0])

    def _adopt(self, job_id: int, record: UploadRecord, body: dict, charged: list[int]) -> PublishResult:
        """The job's upload is recorded as done: ask YouTube whether the video is still there before
        anything else, so a job that forgot its upload (a restored backup, a crash after the upload)
        adopts its video instead of making a second one."""
        try:
            account = self.accounts.account(self._channel_of(job_id), record.project_id)
        except AccountError as exc:
            raise ProviderError(f"Job {job_id} was uploaded as {record.video_id} through project {record.project_id}, "
                                f"which this channel is no longer connected through: not uploading it again. {exc}",
                                provider="youtube") from exc
        youtube = build_youtube(self.accounts.credentials(account.channel_id, account.project_id), self.settings)
        found = self._call(account, "videos.list",
                           lambda: youtube.videos().list(part="id,status", id=record.video_id).execute(), job_id)
        charged[0] += self.quota.cost(account.project_id, "videos.list").units
        if not (found.get("items") or []):
            raise ProviderError(f"Job {job_id} was uploaded as https://youtu.be/{record.video_id}, which YouTube no "
                                "longer has (deleted?). It is not uploaded again by itself: to upload a new copy, run "
                                f"`python -m pipeline publish {job_id} --reupload`.", provider="youtube")
        return self._result(record.video_id, body, charged[0])

    def _channel_of(self, job_id: int) -> int:
        row = self.db.query_one("SELECT channel_id FROM uploads WHERE job_id = ?", [job_id])
        return row[0]

    def forget_upload(self, job_id: int) -> str | None:
        """Drop a finished upload record whose video YouTube no longer has, so the next publish uploads anew.
        Refuses while YouTube still has the video. Returns the forgotten video id."""
        record = self.record(job_id)
        if record is None:
            return None
        if record.status == "done":
            try:
                self._adopt(job_id, record, {"status": {}}, [0])
            except ProviderError as exc:
                if "no longer has" not in str(exc):
                    raise
            else:
                raise ProviderError(f"YouTube still has job {job_id}'s video https://youtu.be/{record.video_id}: "
                                    "nothing to re-upload.", provider="youtube")
        elif record.session_uri:
            raise ProviderError(f"Job {job_id} has an upload in progress: publish it again to resume it.",
                                provider="youtube")
        with self.db.write() as cur:
            cur.execute("DELETE FROM uploads WHERE job_id = ?", [job_id])
        return record.video_id

    def _deferred_or_error(self, channel_id: int, exc: AccountError) -> Exception:
        parked = self.quota.parked_until("channel", str(channel_id))
        if parked or "quota" in str(exc) or "parked" in str(exc):
            return PublishDeferred(f"not now: {exc}", parked[0] if parked else next_reset())
        return ProviderError(str(exc), provider="youtube")

    def _intent(self, job_id: int, uid: str | None, channel_id: int, project: str, video: Path, body: dict) -> None:
        with self.db.write() as cur:
            cur.execute("INSERT INTO uploads (job_id, job_uid, channel_id, project_id, status, bytes_total,"
                        " privacy_requested) VALUES (?, ?, ?, ?, 'intent', ?, ?) ON CONFLICT DO UPDATE SET"
                        " project_id = excluded.project_id, job_uid = excluded.job_uid, status = 'intent', error = NULL",
                        [job_id, uid, channel_id, project, video.stat().st_size, body["status"].get("privacyStatus")])

    def _upload(self, job_id: int, account: Account, video: Path, body: dict, session_uri: str | None,
                charged: list[int], progress: Callable[[float], None] | None = None) -> str:
        import httplib2
        from googleapiclient.errors import HttpError

        creds = self.accounts.credentials(account.channel_id, account.project_id)
        youtube = build_youtube(creds, self.settings)
        chunk = self.settings.upload_chunk_kb * 1024
        if session_uri is None:  # a new upload costs its quota when the session is created
            try:
                self.quota.check(account.project_id, "videos.insert")
            except QuotaDeferred as exc:
                raise PublishDeferred(str(exc), exc.until) from exc
        session = {"uri": session_uri}

        def on_session(uri: str) -> None:
            cost = self.quota.cost(account.project_id, "videos.insert")
            with self.db.write() as cur:  # the session and its quota, together, before the first chunk
                cur.execute("UPDATE uploads SET session_uri = ?, status = 'uploading' WHERE job_id = ?",
                            [self._seal_uri(uri), job_id])
                self.quota.record_in(cur, account.project_id, "videos.insert", "ok", account.channel_id, job_id)
            session["uri"] = uri
            charged[0] += cost.units

        upload = _SessionAwareUpload(video, chunk, on_session)
        request = youtube.videos().insert(part="snippet,status", body=body, media_body=upload.media,
                                          notifySubscribers=True)
        upload.request = request
        if session_uri:  # resume: ask the server what it has before sending more
            request.resumable_uri = session_uri
            request._in_error_state = True  # noqa: SLF001 - makes next_chunk query the upload status first
            upload._announced = True  # noqa: SLF001
        delay, failures, response = 1.0, 0, None
        tries = self.settings.provider_retries + 3
        size = video.stat().st_size
        final_sent = False
        while response is None:
            problem = None
            if not final_sent and request.resumable_progress + chunk >= size:
                # Recorded before the last bytes go: if that answer is lost and the session later expires,
                # the video may exist, and a new upload must not start by itself (see LOST).
                self._save(job_id, bytes_sent=size)
                final_sent = True
            try:
                _, response = request.next_chunk()
                failures, delay = 0, 1.0  # progress: the budget is for consecutive failures
                if response is None and request.resumable_progress and not final_sent:
                    self._save(job_id, bytes_sent=request.resumable_progress)
                if progress is not None:  # what YouTube acknowledged (its Range header), not what was sent
                    progress(1.0 if response is not None else request.resumable_progress / max(1, size))
                continue
            except HttpError as exc:
                status, reason = status_of(exc), error_reason(exc)
                if session["uri"] is None:  # the session itself was refused: that call is ledgered, nothing to resume
                    self.quota.record(account.project_id, "videos.insert", reason, account.channel_id, job_id)
                    self._save(job_id, status="intent", error=f"{status} {reason}")
                    raise self._classify(account, "videos.insert", reason, exc) from exc
                if status in (404, 410):  # the session expired: YouTube forgot it
                    row = self.db.query_one("SELECT bytes_sent, bytes_total FROM uploads WHERE job_id = ?", [job_id])
                    if row and row[1] and row[0] >= row[1]:  # every byte had gone: the video may exist
                        self._save(job_id, session_uri=None, status="lost", error=f"{status}: upload session expired")
                        raise ProviderError(LOST.format(job=job_id), provider="youtube") from exc
                    self._save(job_id, session_uri=None, status="intent", error=f"{status}: upload session expired")
                    raise TransientError("the upload session expired before YouTube had the whole video; "
                                         "a new upload will start", provider="youtube") from exc
                if status not in RETRYABLE:
                    # Only 404/410 end a session: keep it, so the next try asks YouTube what it has.
                    self._save(job_id, error=f"{status} {reason}")
                    raise self._classify(account, "videos.insert", reason, exc) from exc
                problem = f"YouTube answered {status} ({reason})"
            except (OSError, httplib2.HttpLib2Error) as exc:  # the network dropped: resume from the server's count
                problem = f"the connection failed ({exc})"
                if session["uri"] is None:
                    raise TransientError(f"YouTube did not answer the upload request: {exc}", provider="youtube") from exc
            failures += 1
            if failures > tries:
                self._save(job_id, error=problem)
                raise TransientError(f"upload interrupted: {problem} {failures} times in a row; the upload session is "
                                     "kept and the next try resumes it", provider="youtube")
            request._in_error_state = True  # noqa: SLF001 - ask what the server acknowledged before resending
            self.sleep(delay)
            delay = min(delay * 2, 30)
        video_id = response["id"]
        actual = (response.get("status") or {}).get("privacyStatus")
        self._save(job_id, status="uploaded", video_id=video_id, privacy_actual=actual, bytes_sent=video.stat().st_size)
        requested = body["status"].get("privacyStatus")
        if requested and actual and actual != requested and not body["status"].get("publishAt"):
            # YouTube locks uploads from unverified API projects to private
            with self.db.write() as cur:
                cur.execute("UPDATE youtube_projects SET verified = false WHERE project_id = ?", [account.project_id])
            log.warning("project %s looks unverified: %s upload came back %s", account.project_id, requested, actual)
        return video_id

    def _thumbnail(self, job_id: int, account: Account, video_id: str, thumbnail: Path) -> int:
        from googleapiclient.http import MediaFileUpload

        media = MediaFileUpload(str(thumbnail), mimetype="image/jpeg", resumable=False)
        # e.g. 403: custom thumbnails need a verified channel. The video is live: say so, do not fail it.
        return self._follow_up(job_id, account, video_id, "thumbnails.set", "thumbnail", "thumbnail not set",
                               lambda yt: yt.thumbnails().set(videoId=video_id, media_body=media))

    def _captions(self, job_id: int, account: Account, video_id: str, srt: Path, language: str) -> int:
        """The SRT as the video's caption track (``captions.insert``, 400 units). The words are already burned
        in; the track is what viewers switch off, what search indexes and what YouTube translates. A refusal
        (a channel that may not add captions) leaves the video live and says so; a transient error retries."""
        from googleapiclient.http import MediaFileUpload

        media = MediaFileUpload(str(srt), mimetype="application/octet-stream", resumable=False)
        body = {"snippet": {"videoId": video_id, "language": language, "name": "", "isDraft": False}}
        return self._follow_up(job_id, account, video_id, "captions.insert", "captions", "captions not added",
                               lambda yt: yt.captions().insert(part="snippet", body=body, media_body=media))

    def _follow_up(self, job_id: int, account: Account, video_id: str, method: str, status: str, failed: str,
                   request) -> int:
        """One call after the upload (``request(youtube)`` builds it), recorded as ``status`` so a restart does not
        repeat it. A refusal leaves the video live with the reason stored; a transient error is raised to retry.
        Returns the quota units charged (YouTube charges refused calls too)."""
        youtube = build_youtube(self.accounts.credentials(account.channel_id, account.project_id), self.settings)
        try:
            self._call(account, method, lambda: request(youtube).execute(), job_id)
        except ProviderError as exc:
            if isinstance(exc, TransientError):
                raise
            log.warning("job %s: %s on %s: %s", job_id, failed, video_id, exc)
            self._save(job_id, status=status, error=f"{failed}: {exc}")
            return self.quota.cost(account.project_id, method).units
        self._save(job_id, status=status)
        return self.quota.cost(account.project_id, method).units

    def _playlist(self, job_id: int, account: Account, video_id: str, playlist_id: str) -> int:
        youtube = build_youtube(self.accounts.credentials(account.channel_id, account.project_id), self.settings)
        body = {"snippet": {"playlistId": playlist_id, "resourceId": {"kind": "youtube#video", "videoId": video_id}}}
        self._call(account, "playlistItems.insert",
                   lambda: youtube.playlistItems().insert(part="snippet", body=body).execute(), job_id)
        self._save(job_id, status="playlist")  # a restart does not add it twice
        return self.quota.cost(account.project_id, "playlistItems.insert").units

    def _result(self, video_id: str, body: dict, units: int) -> PublishResult:
        state = "scheduled" if body["status"].get("publishAt") else "published"
        return PublishResult(state, video_id, f"https://youtu.be/{video_id}",
                             [Usage("youtube", "data-api-v3", "quota_units", float(units))])

    def unverified_projects(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT project_id FROM youtube_projects WHERE NOT verified")]

