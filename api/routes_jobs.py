"""Jobs and videos: make one or a batch, list, read, cancel, retry, publish; list videos and download their files."""

from __future__ import annotations

from api import models as m
from api.core import PREFIX, Api, Call, decode_cursor, encode_cursor
from api.problems import Problem
from pipeline import listings

DOWNLOADS = {"video": "video/mp4", "thumbnail": "image/jpeg", "captions": "application/x-subrip",
             "webvtt": "text/vtt"}


def job_url(call: Call, job_id: int) -> str:
    return f"{call.base_url}{PREFIX}/jobs/{job_id}"


def _job(call: Call, job_id: int) -> dict:
    job = listings.job_detail(call.wb.db, job_id)
    if job is None:
        raise Problem(404, "not-found", "Not found", f"There is no job {job_id} in this workspace.")
    job["url"] = job_url(call, job_id)
    return job


def _page(rows: list[dict], limit: int, key: str) -> str | None:
    return encode_cursor({"after": rows[-1][key]}) if len(rows) == limit else None


def register(api: Api) -> None:
    @api.route("POST", "/jobs", summary="Make a video", tag="jobs", permission="make", body=m.JobCreate,
               response=m.Job, status=201, creates=True, errors=(401, 403, 404, 409, 422, 429))
    def create_job(call: Call):
        """Queue one video (201). With an `Idempotency-Key` header a retried request gets the first answer again
        (`Idempotent-Replayed: true`) instead of queueing a second; the job also carries the key, so even a
        request cut off after the job was queued makes one job (answered 200 with that job). The budget guard,
        review gates and quality gate apply as in the Studio."""
        from pipeline.workbench import VideoRequest

        body: m.JobCreate = call.body
        fields = body.model_dump()
        publish_at = fields.pop("publish_at")
        key = f"api:{call.actor.user_id}:{call.idempotency_key}" if call.idempotency_key else None
        req = VideoRequest(**fields, request_key=key,
                           publish_at=publish_at.strftime("%Y-%m-%dT%H:%M:%SZ") if publish_at else None)
        job_id, created = call.wb.submit(req)
        return (201 if created else 200), _job(call, job_id)

    @api.route("POST", "/jobs/batch", summary="Make several videos", tag="jobs", permission="make",
               body=m.BatchCreate, response=m.Batch, status=201, creates=True, errors=(401, 403, 422, 429))
    def create_batch(call: Call):
        """One video per topic (at most 500); lines that cannot be queued are listed in `errors` with why,
        the rest are queued. An `Idempotency-Key` makes a resent batch queue nothing new."""
        body: m.BatchCreate = call.body
        key = f"api:{call.actor.user_id}:{call.idempotency_key}" if call.idempotency_key else None
        ids, errors = call.wb.enqueue_batch(body.topics, request_key=key, channel=body.channel,
                                            duration_s=body.duration_s, format=body.format, privacy=body.privacy,
                                            review=body.review)
        return {"job_ids": ids, "errors": errors}

    @api.route("GET", "/jobs", summary="List jobs", tag="jobs", query=m.JobsQuery, response=m.JobList)
    def list_jobs(call: Call):
        """Newest first, filtered by status (repeatable), channel, time queued and words in the topic."""
        q: m.JobsQuery = call.query
        at = decode_cursor(q.cursor, ("after",))
        rows = listings.jobs_page(call.wb.db, q.status, q.channel_id, _naive(q.since), _naive(q.until), q.q,
                                  at["after"] if at else None, q.limit)
        for row in rows:
            row["url"] = job_url(call, row["id"])
        return {"items": rows, "next_cursor": _page(rows, q.limit, "id")}

    @api.route("GET", "/jobs/{job_id:int}", summary="One job", tag="jobs", response=m.Job, errors=(401, 404))
    def get_job(call: Call):
        """The job with each stage (status, attempts, progress, provider), overall progress, cost so far by
        stage and provider, and its video's title and publish state."""
        return _job(call, call.path["job_id"])

    @api.route("POST", "/jobs/{job_id:int}/cancel", summary="Cancel a job", tag="jobs", permission="make",
               response=m.ActionResult, errors=(401, 403, 404, 409))
    def cancel_job(call: Call):
        """A queued job is cancelled at once; a running one stops at its next checkpoint (what it finished and
        paid for is kept)."""
        job_id = call.path["job_id"]
        from pipeline.job_views import cancelled_words

        said = call.wb.cancel(job_id)
        job = _job(call, job_id)
        return {"job_id": job_id, "status": job["status"], "message": cancelled_words(job_id, said)}

    @api.route("POST", "/jobs/{job_id:int}/retry", summary="Retry a job", tag="jobs", permission="make",
               response=m.ActionResult, errors=(401, 403, 404, 409))
    def retry_job(call: Call):
        """Queue a failed, cancelled or held job again from its first unfinished stage."""
        job_id = call.path["job_id"]
        call.wb.retry(job_id)
        return {"job_id": job_id, "status": _job(call, job_id)["status"], "message": f"Job {job_id} queued again."}

    @api.route("POST", "/jobs/{job_id:int}/publish", summary="Publish a job's video", tag="jobs",
               permission="publish", body=m.PublishBody, response=m.PublishResult, status=202,
               errors=(401, 403, 404, 409, 422))
    def publish_job(call: Call):
        """Publish a video that waits for review (or was exported to the outbox) to YouTube or the outbox, with
        optional new metadata: the stages an edit touches run again, then the publish stage. The job's
        `video.published` event says when it is up."""
        from pipeline.review import PublishRequest

        body: m.PublishBody = call.body
        job_id = call.path["job_id"]
        result = call.wb.review.publish(job_id, PublishRequest(
            target=body.target, privacy=body.privacy, title=body.title, description=body.description,
            tags=body.tags, publish_at=body.publish_at))
        return {"job_id": job_id, "target": result["target"], "rerun_from": result["rerun_from"],
                "url": job_url(call, job_id)}

    @api.route("GET", "/videos", summary="List videos", tag="videos", query=m.VideosQuery, response=m.VideoList)
    def list_videos(call: Call):
        """Made videos, newest first, filtered by channel and publish state."""
        q: m.VideosQuery = call.query
        at = decode_cursor(q.cursor, ("after",))
        rows = listings.videos_page(call.wb.db, q.channel_id, q.publish_state, at["after"] if at else None, q.limit)
        return {"items": [_video(call, r) for r in rows], "next_cursor": _page(rows, q.limit, "job_id")}

    @api.route("GET", "/videos/{job_id:int}", summary="One video", tag="videos", response=m.Video,
               errors=(401, 404))
    def get_video(call: Call):
        row = listings.video(call.wb.db, call.path["job_id"])
        if row is None:
            raise Problem(404, "not-found", "Not found", f"There is no video of job {call.path['job_id']} here.")
        return _video(call, row)

    for kind in DOWNLOADS:
        api.route("GET", f"/videos/{{job_id:int}}/{kind}", summary=f"Download the {kind}", tag="videos",
                  response=None, media={DOWNLOADS[kind]: f"The {kind} file (Range requests: 206)"},
                  errors=(401, 404, 416))(_download(kind))


def _download(kind: str):
    def download(call: Call):
        from api.files import file_response, media_type_for

        job_id = call.path["job_id"]
        if listings.video(call.wb.db, job_id) is None:
            raise Problem(404, "not-found", "Not found", f"There is no video of job {job_id} here.")
        path = listings.video_file(call.wb.db, job_id, kind, call.wb.settings.jobs_dir)
        if path is None:
            raise Problem(404, "not-found", "File not found",
                          f"Job {job_id} has no {kind} file (not made, or removed from disk: retry the job to make "
                          "it again).")
        return file_response(call.request, path, media_type_for(path), f"job-{job_id}-{kind}{path.suffix}")
    download.__name__ = f"download_{kind}"
    download.__doc__ = (f"The {kind} file. Supports `Range: bytes=...` (206 Partial Content), `If-Range`, "
                        "`If-None-Match` and HEAD, so players seek and downloads resume.")
    return download


def _video(call: Call, row: dict) -> dict:
    base = f"{call.base_url}{PREFIX}/videos/{row['job_id']}"
    row["downloads"] = {k: f"{base}/{k}" for k, ok in (("video", row.get("has_video")),
                                                       ("thumbnail", row.get("has_thumbnail")),
                                                       ("captions", True), ("webvtt", True)) if ok}
    return row


def _naive(value):
    """An aware time as naive UTC (how the database keeps times)."""
    if value is None or value.tzinfo is None:
        return value
    from datetime import timezone
    return value.astimezone(timezone.utc).replace(tzinfo=None)
