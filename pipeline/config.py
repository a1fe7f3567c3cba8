"""Settings: built once (pydantic-settings) and passed down.

Every field can be set from the environment with the ``YTEMPIRE_`` prefix
(``YTEMPIRE_DATA_DIR``, ``YTEMPIRE_WORKERS``...). Keys for paid services are
``SecretStr`` so they never print in a repr, a log line or a page.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DATA = PROJECT_ROOT / "data"

FORMATS = {"landscape": (1920, 1080), "shorts": (1080, 1920)}
MIN_DURATION_S = 10
MAX_DURATION_S = 1800
SHORTS_MAX_S = 180


class ConfigError(ValueError):
    """A setting or an argument an operator must fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YTEMPIRE_", extra="ignore")

    data_dir: Path = Field(
        default=BUNDLED_DATA,
        description="Runtime data: the DuckDB file, jobs/<id>/ artifacts and the outbox.",
    )
    prices_file: Path = Field(
        default=BUNDLED_DATA / "prices.json",
        description="Dated price table that turns provider usage into USD.",
    )
    workers: int = Field(default=2, ge=1, le=32, description="Jobs the worker runs at once.")
    gpu_slots: int = Field(default=1, ge=0, le=16, description="GPU stages allowed at once.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Tries per stage on transient errors.")
    retry_base_s: float = Field(default=1.0, ge=0, description="First backoff; doubles each retry.")
    poll_s: float = Field(default=1.0, gt=0, description="How often the worker looks for queued jobs.")
    quality_threshold: float = Field(
        default=70, ge=0, le=100, description="Quality score under which a video is held, not published."
    )
    cap_usd: float = Field(default=3.0, ge=0, description="Spending cap per video, in USD.")
    speaking_rate_wpm: float = Field(
        default=150, ge=80, le=250, description="Words a minute the writer sizes scripts for."
    )
    fps: int = Field(default=30, ge=10, le=60, description="Frame rate of rendered videos.")
    x264_preset: str = Field(default="superfast", description="libx264 preset for renders.")
    x264_crf: int = Field(default=23, ge=0, le=51, description="libx264 constant rate factor.")
    max_video_mbps: float = Field(default=8.0, gt=0, description="Peak video bitrate (YouTube: ~8 for 1080p30).")
    transition: str = Field(default="dip", description="Slide transition: 'dip' (fast) or 'crossfade'.")
    bootstrap_trends: bool = Field(
        default=True, description="On first start, load the bundled trending data and cluster its topics."
    )
    writer: str = Field(default="local", description="Default writer provider chain.")
    voice: str = Field(default="piper", description="Default voice provider chain.")
    visuals: str = Field(default="slides", description="Default visuals provider.")
    publisher: str = Field(default="outbox", description="Default publisher.")

    @field_validator("data_dir", "prices_file", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, str):
            return Path(os.path.expanduser(value))
        return value

    @field_validator("transition")
    @classmethod
    def _known_transition(cls, value: str) -> str:
        if value not in ("dip", "crossfade"):
            raise ValueError("transition must be 'dip' or 'crossfade'")
        return value

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ytempire.duckdb"

    @property
    def jobs_dir(self) -> Path:
        return self.data_dir / "jobs"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def prepare_data_dir(self) -> None:
        """Create the data directory and prove it is writable, or say what to fix."""
        try:
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"The data directory {self.data_dir} is not writable ({exc.strerror or exc}). "
                "Choose another with --data-dir or YTEMPIRE_DATA_DIR, or fix its permissions."
            ) from exc


def load_settings(data_dir: str | Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment, with an explicit data directory winning over it."""
    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir).expanduser()
    return Settings(**overrides)


def validate_duration(duration_s: float, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise ConfigError(
            f"Duration {duration_s:g} s is out of range: use {MIN_DURATION_S} to {MAX_DURATION_S} seconds."
        )
    if fmt == "shorts" and duration_s > SHORTS_MAX_S:
        raise ConfigError(f"Shorts are at most {SHORTS_MAX_S} s long; got {duration_s:g} s.")
