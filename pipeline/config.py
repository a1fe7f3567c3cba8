"""Settings: built once (pydantic-settings) and passed down.

Every field can be set from the environment with the ``YTEMPIRE_`` prefix
(``YTEMPIRE_DATA_DIR``, ``YTEMPIRE_WORKERS``...). Keys for paid services are
``SecretStr`` so they never print in a repr, a log line or a page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from typing import Annotated

from pydantic_settings import (BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict,
                               TomlConfigSettingsSource)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUNDLED_DATA = PROJECT_ROOT / "data"
SECRETS_FILE = Path(os.environ.get("YTEMPIRE_SECRETS_FILE", PROJECT_ROOT / ".streamlit" / "secrets.toml"))

FORMATS = {"landscape": (1920, 1080), "shorts": (1080, 1920)}
MIN_DURATION_S = 10
MAX_DURATION_S = 1800
SHORTS_MAX_S = 180
# Input limits, enforced at every edge (forms, CLI, API) and stated where the input is asked for.
MAX_TOPIC_CHARS = 200
MAX_OUTLINE_CHARS = 100_000  # an outline or source text: about 15,000 words, far more than a 30-minute script


class ConfigError(ValueError):
    """A setting or an argument an operator must fix."""


class _SecretsToml(TomlConfigSettingsSource):
    """``.streamlit/secrets.toml``, where the token key is read under YTEMPIRE_TOKEN_KEY only (never
    ``token_key`` or another spelling): one name, so a stale copy under another cannot win."""

    def _read_file(self, file_path: Path) -> dict:
        data = super()._read_file(file_path)
        return {k: v for k, v in data.items() if k.lower() != "token_key"}


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YTEMPIRE_", extra="ignore", populate_by_name=True)

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
    x264_preset: str = Field(default="superfast", description="libx264 preset for slideshow renders.")
    x264_footage_preset: str = Field(default="ultrafast", description="libx264 preset for renders with footage.")
    x264_footage_params: str = Field(
        default="cabac=1:deblock=1", max_length=200,
        description="libx264 options added for renders with footage (key=value pairs joined by ':'). The default "
                    "puts CABAC and the deblocking filter back into ultrafast: 35% less CPU than superfast on "
                    "footage for 0.1% SSIM (bench/render.py --scenes stock).")
    x264_crf: int = Field(default=23, ge=0, le=51, description="libx264 constant rate factor.")
    max_video_mbps: float = Field(default=8.0, gt=0, description="Peak video bitrate (YouTube: ~8 for 1080p30).")
    transition: str = Field(default="dip", description="Slide transition: 'dip' (fast) or 'crossfade'.")
    api_rate_per_minute: int = Field(default=120, ge=1, le=100_000,
                                     description="Requests a minute one API token may make on average (429 past it).")
    api_burst: int = Field(default=30, ge=1, le=10_000, description="Requests one API token may make at once.")
    bootstrap_trends: bool = Field(
        default=True, description="On first start, load the bundled trending data and cluster its topics."
    )
    writer: str = Field(default="local", description="Default writer provider chain, e.g. 'gpt-4.1-mini > local'.")
    voice: str = Field(default="piper", description="Default voice provider chain, e.g. 'google-neural2 > piper'.")
    visuals: str = Field(default="library > pexels > pixabay > slides",
                         description="Default visuals chain per scene, e.g. 'library > pexels > pixabay > slides'; "
                                     "a source that cannot run (no key, no folder) is skipped, slides always can.")
    visual_threshold: float = Field(default=0.35, ge=0, le=1,
                                    description="Relevance (0-1) a scene's best candidate needs; below it the next "
                                                "source in the chain is tried.")
    scene_min_s: float = Field(default=2.0, ge=1, le=10, description="Shortest scene, in seconds.")
    scene_max_s: float = Field(default=8.0, ge=2, le=30, description="Longest scene, in seconds.")
    media_cache_gb: float = Field(default=20.0, ge=0, le=100_000,
                                  description="Largest the media cache of downloaded and generated files may "
                                              "grow, in GB (0: no limit); the least recently used go first.")
    repeat_window: int = Field(default=20, ge=0, le=1000,
                               description="A clip or picture is not used again in the channel's last N videos.")
    pexels_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_PEXELS_API_KEY", "PEXELS_API_KEY"),
        description="Pexels API key (free at pexels.com/api).")
    pexels_api_root: str = Field(default="https://api.pexels.com/", description="Pexels API root.")
    pixabay_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_PIXABAY_API_KEY", "PIXABAY_API_KEY"),
        description="Pixabay API key (free at pixabay.com/api/docs).")
    pixabay_api_root: str = Field(default="https://pixabay.com/api/", description="Pixabay API root.")
    openai_image_model: str = Field(default="gpt-image-1", description="Image model for the openai-image source.")
    openai_image_quality: str = Field(default="medium", description="Image quality: low, medium or high.")
    publisher: str = Field(default="outbox", description="Default publisher.")

    # -- backups --------------------------------------------------------------------------------
    sources_allow_private: bool = Field(
        default=False, description="Let source URLs reach loopback, private and link-local addresses (an intranet "
                                   "wiki); off, so a shared workbench cannot be made to read what only it can reach.")
    backup_daily: bool = Field(default=True, description="Write an automatic backup of the database once a day.")
    backup_keep: int = Field(default=7, ge=1, le=365,
                             description="Automatic backups kept; older ones are deleted (your own never are).")
    backup_max_mb: int = Field(default=0, ge=0, le=1_000_000,
                               description="Largest backup a restore accepts, uncompressed, in MB "
                                           "(0: four times the database file, at least 256 MB).")

    # -- webhooks: signed events out (pipeline.webhooks) ------------------------------------------
    public_url: str = Field(default="http://localhost:8501", max_length=2000,
                            description="The address webhooks and links name (links in event payloads start "
                                        "with it), e.g. https://studio.example.com.")
    webhooks_allow_private: bool = Field(
        default=False, description="Let webhooks reach loopback, private, link-local and CGNAT addresses (a "
                                   "receiver on this machine or the office network); off, so a webhook cannot be "
                                   "pointed at what only the workbench can reach.")
    webhook_retry_s: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800],
        description="Seconds before each retry of a failed webhook delivery (comma separated; about a day in all "
                    "by default); when they run out the delivery is failed.")
    webhook_disable_after: int = Field(default=5, ge=1, le=1000,
                                       description="Deliveries in a row that fail every retry before the webhook "
                                                   "is turned off (a 410 Gone turns it off at once).")
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60, description="How long a webhook receiver may take "
                                                                            "to answer one delivery.")

    # -- the network door: which names and origins the web server answers ------------------------
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra host names (comma separated) the workbench answers to besides its own address and, "
                    "on loopback, localhost/127.0.0.1/[::1]; e.g. 'studio.example.com'.")
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra browser origins (comma separated) allowed to open the app's websocket or post to it, "
                    "e.g. 'https://studio.example.com' behind a reverse proxy.")

    # -- paid providers: keys are secrets (env or .streamlit/secrets.toml), endpoints are plain -----
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="Key for OpenAI (or an OpenAI-compatible server).")
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible server, e.g. http://localhost:11434/v1 for Ollama (no key needed then).")
    elevenlabs_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_ELEVENLABS_API_KEY", "ELEVENLABS_API_KEY"),
        description="ElevenLabs API key.")
    elevenlabs_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_ELEVENLABS_BASE_URL", "ELEVENLABS_BASE_URL"),
        description="ElevenLabs API root (default https://api.elevenlabs.io).")
    elevenlabs_voice_id: str = Field(default="21m00Tcm4TlvDq8ikWAM", description="ElevenLabs voice (default: Rachel).")
    google_tts_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_GOOGLE_TTS_API_KEY", "GOOGLE_TTS_API_KEY"),
        description="API key for Google Cloud Text-to-Speech (or use a service account file).")
    google_credentials_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_GOOGLE_CREDENTIALS_FILE", "GOOGLE_APPLICATION_CREDENTIALS"),
        description="Google service-account JSON for Text-to-Speech.")
    google_tts_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("YTEMPIRE_GOOGLE_TTS_ENDPOINT", "GOOGLE_TTS_ENDPOINT"),
        description="Text-to-Speech API root (default https://texttospeech.googleapis.com).")
    request_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one call to a paid provider.")
    provider_retries: int = Field(default=2, ge=0, le=10, description="SDK retries (with backoff) on 429, 5xx, timeouts.")
    daily_budgets: dict[str, str] = Field(
        default={"openai": "500 usd", "elevenlabs": "100000 characters", "google": "50 usd"},
        description="Per provider and day: an amount of USD or of a unit; the guard steps down before passing it.")

    # -- YouTube: endpoints are configurable so the whole flow can run against a test server ------
    token_key: SecretStr | None = Field(
        default=None, validation_alias="YTEMPIRE_TOKEN_KEY",
        description="Fernet key that encrypts channel tokens at rest (`python -m pipeline channels key`). "
                    "Only YTEMPIRE_TOKEN_KEY is read (environment or .streamlit/secrets.toml).")
    youtube_api_root: str = Field(default="https://youtube.googleapis.com/", description="YouTube Data API root.")
    youtube_analytics_root: str = Field(default="https://youtubeanalytics.googleapis.com/",
                                        description="YouTube Analytics API root.")
    oauth_token_uri: str = Field(default="https://oauth2.googleapis.com/token", description="OAuth token endpoint.")
    oauth_revoke_uri: str = Field(default="https://oauth2.googleapis.com/revoke",
                                  description="Where a disconnected channel's token is revoked.")
    oauth_redirect_uri: str = Field(default="http://localhost:8501/",
                                    description="Where Google sends the operator back after consent (the workbench).")
    quota_model: str = Field(default="2026", description="'2026' (uploads and search in their own buckets) or 'legacy'.")
    upload_chunk_kb: int = Field(default=8192, ge=256, le=262144, multiple_of=256,
                                 description="Resumable upload chunk size in KiB (a multiple of 256, as YouTube asks).")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over Streamlit's secrets file, which wins over the defaults.
        toml = _SecretsToml(settings_cls, toml_file=SECRETS_FILE)
        return init_settings, env_settings, toml, file_secret_settings

    @field_validator("data_dir", "prices_file", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, str):
            return Path(os.path.expanduser(value))
        return value

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value.strip()):
            raise ValueError("the public URL is the workbench's address, like https://studio.example.com "
                             f"(http:// or https://, no query), not {value[:80]!r}")
        return value.strip().rstrip("/")

    @field_validator("webhook_retry_s", mode="before")
    @classmethod
    def _retry_list(cls, value: object) -> object:
        if isinstance(value, str):  # "5,30,120" or "[5, 30, 120]"
            return [item.strip() for item in value.strip().strip("[]").split(",") if item.strip()]
        return value

    @field_validator("webhook_retry_s")
    @classmethod
    def _retry_schedule(cls, value: list[float]) -> list[float]:
        if not 1 <= len(value) <= 20 or any(not 0 <= v <= 86_400 for v in value):
            raise ValueError("the webhook retry schedule is 1 to 20 delays of 0 to 86400 seconds, like '5,30,120'")
        return value

    @field_validator("daily_budgets")
    @classmethod
    def _budgets(cls, value: dict[str, str]) -> dict[str, str]:
        from pipeline.providers import REGISTRY
        known = {name for table in REGISTRY.values() for name in table} | {"youtube"}
        for provider, budget in value.items():
            if provider not in known:
                raise ValueError(f"{provider!r} is not a provider: daily budgets are for {', '.join(sorted(known))}")
            if not re.fullmatch(r"\s*[\d_.]+\s*[A-Za-z_]+\s*", str(budget)):
                raise ValueError(f"the budget of {provider} must be an amount and a unit, like '500 usd' or "
                                 f"'100000 characters', not {budget!r}")
        return value

    @field_validator("x264_preset", "x264_footage_preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in X264_PRESETS:
            raise ValueError(f"the libx264 preset must be one of {', '.join(X264_PRESETS)}, not {value!r}")
        return value

    @field_validator("x264_footage_params")
    @classmethod
    def _x264_params(cls, value: str) -> str:
        if value and not re.fullmatch(r"[a-z0-9-]+=[A-Za-z0-9.,+-]+(:[a-z0-9-]+=[A-Za-z0-9.,+-]+)*", value):
            raise ValueError("x264_footage_params must be key=value pairs joined by ':', like 'cabac=1:deblock=1'")
        return value

    @model_validator(mode="after")
    def _scene_lengths(self) -> Settings:
        if self.scene_min_s > self.scene_max_s:
            raise ValueError(f"the shortest scene ({self.scene_min_s:g} s, YTEMPIRE_SCENE_MIN_S) must not be longer "
                             f"than the longest ({self.scene_max_s:g} s, YTEMPIRE_SCENE_MAX_S)")
        return self

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

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def media_dir(self) -> Path:
        """The content-addressed cache of downloaded and generated pictures and clips."""
        return self.data_dir / "media"

    def prepare_data_dir(self) -> None:
        """Create the data directory and prove it is writable, or say what to fix."""
        from pipeline.files import private_dir

        try:
            private_dir(self.data_dir)  # the database, tokens (encrypted) and backups: the owner's only
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
    """Settings from the environment, with an explicit data directory winning over it. A value that does
    not validate is a ConfigError naming the variable and what it must be."""
    from pydantic import ValidationError

    if data_dir is not None:
        overrides["data_dir"] = Path(data_dir).expanduser()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"YTEMPIRE_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"A setting is not valid ({problems}): fix it in the environment or "
                          ".streamlit/secrets.toml and start again.") from None


def validate_duration(duration_s: float, fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise ConfigError(
            f"Duration {duration_s:g} s is out of range: use {MIN_DURATION_S} to {MAX_DURATION_S} seconds."
        )
    if fmt == "shorts" and duration_s > SHORTS_MAX_S:
        raise ConfigError(f"Shorts are at most {SHORTS_MAX_S} s long; got {duration_s:g} s.")
