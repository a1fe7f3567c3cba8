"""The API's request and response models (pydantic): they validate every input and are the OpenAPI schemas.

Limits are the engine's own (pipeline.config, pipeline.workbench, pipeline.channels), so the API refuses what
the Studio form would, with the same numbers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.channels import CAPTION_STYLES, MAX_CHAIN, MAX_NAME, MAX_NICHE, REVIEW_MODES
from pipeline.config import MAX_DURATION_S, MAX_OUTLINE_CHARS, MIN_DURATION_S
from pipeline.workbench import MAX_BATCH_LINES, MAX_RELATED

JobStatus = Literal["queued", "running", "review", "done", "held", "failed", "cancelled"]
Privacy = Literal["private", "unlisted", "public"]
Format = Literal["landscape", "shorts"]
ReviewMode = Literal[tuple(REVIEW_MODES)]  # type: ignore[valid-type]
CaptionStyle = Literal[tuple(CAPTION_STYLES)]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class PageQuery(Strict):
    limit: int = Field(50, ge=1, le=200, description="Rows per page (1-200).")
    cursor: str | None = Field(None, max_length=500, description="next_cursor of the previous page.")


# -- jobs ------------------------------------------------------------------------------------------------
class JobCreate(Strict):
    topic: str = Field(..., min_length=1, max_length=300, description="What the video is about.",
                       examples=["Why octopuses are so smart"])
    channel: int | str | None = Field(None, description="Channel id or name (default: the workspace's first).")
    duration_s: int | None = Field(None, ge=MIN_DURATION_S, le=MAX_DURATION_S,
                                   description="Target length in seconds (default: the channel's).")
    format: Format | None = None
    outline: str = Field("", max_length=MAX_OUTLINE_CHARS, description="Bullets or paragraphs: the substance.")
    related_titles: list[str] = Field(default_factory=list, max_length=MAX_RELATED)
    tags: list[str] = Field(default_factory=list, max_length=MAX_RELATED)
    writer: str | None = Field(None, max_length=MAX_CHAIN)
    voice: str | None = Field(None, max_length=MAX_CHAIN)
    visuals: str | None = Field(None, max_length=MAX_CHAIN)
    privacy: Privacy = "private"
    cap_usd: float | None = Field(None, ge=0, le=1000, description="Spending cap for this video in USD.")
    publish_at: datetime | None = Field(None, description="When YouTube should publish it (private until then).")
    sources: list[str] = Field(default_factory=list, max_length=10,
                               description="http(s) URLs the facts come from (files on the server cannot be named).")
    source_text: str = Field("", max_length=MAX_OUTLINE_CHARS, description="Pasted source text.")
    captions: CaptionStyle | None = None
    music: bool = True
    review: ReviewMode | None = Field(None, description="Stop for a person: auto, script, publish or both.")

    @field_validator("sources")
    @classmethod
    def _urls_only(cls, sources: list[str]) -> list[str]:
        # The Studio and the CLI may name files on this machine; an API client must not (it would read the
        # server's files into a script), so only web addresses pass.
        for url in sources:
            if not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
                raise ValueError(f"{url[:80]!r} is not an http(s) URL of at most 2,000 characters; paste the text "
                                 "into source_text instead")
        return sources


class BatchCreate(Strict):
    topics: list[str] = Field(..., min_length=1, max_length=MAX_BATCH_LINES, description="One video per topic.")
    channel: int | str | None = None
    duration_s: int | None = Field(None, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    format: Format | None = None
    privacy: Privacy = "private"
    review: ReviewMode | None = None


class Stage(BaseModel):
    stage: str
    status: str
    attempts: int
    progress: float
    provider: str | None = None
    device: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


class StageCost(BaseModel):
    stage: str
    provider: str
    usd: float


class JobVideo(BaseModel):
    title: str | None = None
    publish_state: str | None = None
    publish_ref: str | None = None
    quality_score: float | None = None
    duration_s: float | None = None
    video_path: str | None = Field(None, description="The video file on the workbench's machine.")
    thumbnail_path: str | None = Field(None, description="The thumbnail file on the workbench's machine.")
    quota_units: int = Field(0, description="YouTube quota units publishing it took.")


class CostLine(BaseModel):
    """One ledger line of a job, summed by stage, provider, model and unit (what `python -m pipeline make --json`
    prints as ``cost_breakdown``)."""
    stage: str
    provider: str
    model: str
    units: dict[str, float]
    usd: float


class Fallback(BaseModel):
    stage: str
    from_provider: str
    to_provider: str | None = None
    reason: str


class Scene(BaseModel):
    start: float
    end: float
    narration: str
    query: str
    provider: str
    kind: str
    source: str | None = Field(None, description="The page the visual came from, else its file.")
    score: float | None = None


class JobSummary(BaseModel):
    id: int
    status: JobStatus
    awaiting: str | None = Field(None, description="In review: what it waits for (script or publish).")
    topic: str
    channel_id: int
    channel: str | None = None
    workspace_id: int
    duration_s: int
    format: str
    current_stage: str | None = None
    error_stage: str | None = None
    error_message: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    cost_usd: float
    quality_score: float | None = None
    video_path: str | None = Field(None, description="Its video file on the workbench's machine, once made.")
    url: str = Field("", description="This job in the API.")


class Job(JobSummary):
    progress: float = Field(..., description="0 to 1 over the stages that run.")
    stages: list[Stage]
    costs: list[StageCost]
    video: JobVideo | None = None
    error_provider: str | None = None
    held_reason: str | None = Field(None, description="Held: what the quality gate said.")
    privacy: str | None = Field(None, description="The privacy it is published with.")
    cost_breakdown: list[CostLine] = Field(default_factory=list)
    fallbacks: list[Fallback] = Field(default_factory=list, description="Providers that failed and what took over.")
    scenes: list[Scene] = Field(default_factory=list, description="The scene plan with each scene's visual.")


class JobList(BaseModel):
    items: list[JobSummary]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null on the last.")


class JobsQuery(PageQuery):
    status: list[JobStatus] | None = Field(None, description="Repeat for several: ?status=done&status=failed.")
    channel_id: int | None = None
    since: datetime | None = Field(None, description="Queued at or after (ISO 8601, UTC).")
    until: datetime | None = Field(None, description="Queued before (ISO 8601, UTC).")
    q: str | None = Field(None, max_length=200, description="Words in the topic.")


class Batch(BaseModel):
    job_ids: list[int]
    errors: list[str] = Field(..., description="Each line not queued and why.")


class ActionResult(BaseModel):
    job_id: int
    status: str
    message: str


class PublishBody(Strict):
    target: Literal["youtube", "outbox"] = "youtube"
    privacy: Privacy = "private"
    title: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=5000)
    tags: list[str] | None = Field(None, max_length=500)
    publish_at: datetime | None = None


class PublishResult(BaseModel):
    job_id: int
    target: str
    rerun_from: str
    url: str


# -- channels --------------------------------------------------------------------------------------------
class ChannelBody(Strict):
    name: str = Field(..., min_length=1, max_length=MAX_NAME)
    niche: str = Field("", max_length=MAX_NICHE)
    language: str = Field("en", max_length=20)
    voice: str = Field("piper", max_length=MAX_CHAIN)
    writer: str = Field("local", max_length=MAX_CHAIN)
    primary_color: str = Field("#1E2A44", max_length=20)
    accent_color: str = Field("#F2B632", max_length=20)
    text_color: str = Field("#FFFFFF", max_length=20)
    default_format: Format = "landscape"
    default_duration: int = Field(60, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    made_for_kids: bool = False
    visuals: str = Field("", max_length=MAX_CHAIN)
    caption_style: CaptionStyle = "sentence"
    caption_font: str = Field("", max_length=100)
    caption_size: int = Field(100, ge=0, le=1000)
    caption_outline: int = Field(4, ge=0, le=1000)
    caption_shadow: int = Field(2, ge=0, le=1000)
    review: ReviewMode = "auto"


class ChannelPatch(Strict):
    """Only the fields sent change."""
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    niche: str | None = Field(None, max_length=MAX_NICHE)
    language: str | None = Field(None, max_length=20)
    voice: str | None = Field(None, max_length=MAX_CHAIN)
    writer: str | None = Field(None, max_length=MAX_CHAIN)
    primary_color: str | None = Field(None, max_length=20)
    accent_color: str | None = Field(None, max_length=20)
    text_color: str | None = Field(None, max_length=20)
    default_format: Format | None = None
    default_duration: int | None = Field(None, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    made_for_kids: bool | None = None
    visuals: str | None = Field(None, max_length=MAX_CHAIN)
    caption_style: CaptionStyle | None = None
    caption_font: str | None = Field(None, max_length=100)
    caption_size: int | None = Field(None, ge=0, le=1000)
    caption_outline: int | None = Field(None, ge=0, le=1000)
    caption_shadow: int | None = Field(None, ge=0, le=1000)
    review: ReviewMode | None = None


class Channel(ChannelBody):
    model_config = ConfigDict(extra="ignore")
    id: int
    workspace_id: int | None = None
    videos: int = 0
    spend_usd: float = 0.0
    connected: bool = False
    created_at: datetime | None = None


class ChannelList(BaseModel):
    items: list[Channel]
    next_cursor: str | None = None


class Deleted(BaseModel):
    id: int
    deleted: bool
    notes: list[str] = []


# -- videos ----------------------------------------------------------------------------------------------
class Video(BaseModel):
    job_id: int
    title: str
    topic: str
    channel_id: int
    channel: str | None = None
    format: str
    duration_s: float | None = None
    quality_score: float | None = None
    cost_usd: float
    publish_state: str
    publish_ref: str | None = None
    created_at: datetime
    downloads: dict[str, str] = Field(default_factory=dict, description="What can be downloaded, by kind.")


class VideoList(BaseModel):
    items: list[Video]
    next_cursor: str | None = None


class VideosQuery(PageQuery):
    channel_id: int | None = None
    publish_state: str | None = Field(None, max_length=20, description="published, scheduled, outbox, held, ...")


# -- schedules -------------------------------------------------------------------------------------------
class ScheduleBody(Strict):
    times: list[str] = Field(..., min_length=1, max_length=48, description="Times of day, HH:MM, e.g. 09:00.")
    timezone: str = Field("UTC", max_length=64, description="IANA name, e.g. Europe/Paris.")
    country: str | None = Field(None, max_length=8, description="Trending data the schedule picks topics from.")
    duration_s: int = Field(60, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    format: Format = "landscape"
    privacy: Privacy = "private"
    enabled: bool = True


class Schedule(BaseModel):
    channel_id: int
    channel: str | None = None
    times: list[str]
    timezone: str
    country: str | None = None
    duration_s: int
    format: str
    privacy: str
    enabled: bool


class ScheduleList(BaseModel):
    items: list[Schedule]


# -- costs -----------------------------------------------------------------------------------------------
class CostsQuery(Strict):
    by: Literal["day", "channel", "provider"] = "day"
    since: date | None = Field(None, description="First day (default: 30 days ago).")
    until: date | None = Field(None, description="Last day (default: today).")


class CostRow(BaseModel):
    key: str
    usd: float
    calls: int


class CostSummary(BaseModel):
    by: str
    since: date
    until: date
    total_usd: float
    rows: list[CostRow]


class BudgetLine(BaseModel):
    provider: str
    budget: str
    used: float
    limit: float
    unit: str
    share: float = Field(..., description="used / limit today (1.0 = reached).")


class BudgetStatus(BaseModel):
    cap_usd: float = Field(..., description="Per-video cap in force in this workspace.")
    spent_today_usd: float
    per_day_7d_usd: float
    over_cap_videos: int
    daily: list[BudgetLine]


# -- trends ----------------------------------------------------------------------------------------------
class TrendsQuery(Strict):
    country: str = Field("US", min_length=2, max_length=8)
    limit: int = Field(25, ge=1, le=100)


class TopicList(BaseModel):
    country: str
    items: list[dict]


class BacklogQuery(TrendsQuery):
    limit: int = Field(30, ge=1, le=100)


# -- YouTube ---------------------------------------------------------------------------------------------
class YouTubeStatus(BaseModel):
    quota: list[dict]
    accounts: list[dict]
    unverified: list[str]


# -- health ----------------------------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Ready(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]


class Me(BaseModel):
    user_id: int | None
    email: str
    name: str
    role: str
    workspace_id: int | None
    workspaces: list[int]
    permissions: list[str]
