"""Channels and their brand settings: validated on the way in, with errors that say what to fix."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import FORMATS, ConfigError, validate_duration
from pipeline.db import Database
from pipeline.media.draw import ColorError, parse_color

DEMO_CHANNEL = "Demo Channel"
MAX_NAME, MAX_NICHE, MAX_CHAIN = 100, 200, 300  # characters
FIELDS = ("name", "niche", "language", "voice", "writer", "primary_color", "accent_color", "text_color",
          "default_format", "default_duration", "made_for_kids", "visuals", "caption_style", "caption_font",
          "caption_size", "caption_outline", "caption_shadow", "review")
CAPTION_STYLES = ("sentence", "karaoke", "pop")  # pipeline.media.caption_style.STYLES, without loading the fonts
# Review gates: auto runs straight through; script stops for a person after the script (before any voice is paid
# for); publish stops after the quality gate (the operator watches it and edits its metadata, then publishes).
REVIEW_MODES = {"auto": "Automatic", "script": "Review the script", "publish": "Review before publishing",
                "both": "Review the script and before publishing"}
REVIEW_GATES = {"auto": (), "script": ("script",), "publish": ("publish",), "both": ("script", "publish")}


def review_gates(brief: dict, channel: dict) -> tuple[str, ...]:
    """Where a job stops for a person: the video's own choice, else its channel's ('auto' when neither says)."""
    mode = (brief or {}).get("review") or (channel or {}).get("review") or "auto"
    return REVIEW_GATES.get(mode, ())


class ChannelError(ValueError):
    pass


@dataclass
class ChannelInput:
    name: str
    niche: str = ""
    language: str = "en"
    voice: str = "piper"
    writer: str = "local"
    primary_color: str = "#1E2A44"
    accent_color: str = "#F2B632"
    text_color: str = "#FFFFFF"
    default_format: str = "landscape"
    default_duration: int = 60
    made_for_kids: bool = False
    visuals: str = ""  # the visuals chain; empty: the default from Settings
    caption_style: str = "sentence"  # sentence, karaoke (the spoken word lit in the accent) or pop (1-3 words)
    caption_font: str = ""  # a font family the workbench ships; empty: the default for the script
    caption_size: int = 100
    caption_outline: int = 4
    caption_shadow: int = 2
    review: str = "auto"  # a key of REVIEW_MODES


def validate(data: ChannelInput) -> list[str]:
    """Every problem with a channel's settings, each as an instruction (empty when valid)."""
    errors = []
    name = (data.name or "").strip()
    if not name:
        errors.append("Name is required.")
    elif len(name) > MAX_NAME:
        errors.append(f"Name must be at most {MAX_NAME} characters.")
    if len(data.niche or "") > MAX_NICHE:
        errors.append(f"Niche must be at most {MAX_NICHE} characters.")
    for label, chain in (("Writer chain", data.writer), ("Voice chain", data.voice), ("Visuals chain", data.visuals)):
        if len(chain or "") > MAX_CHAIN:
            errors.append(f"{label} must be at most {MAX_CHAIN} characters.")
    if not data.language or len(data.language) > 12 or not data.language.replace("-", "").isalpha():
        errors.append("Language must be a code such as 'en' or 'en-US'.")
    else:
        from pipeline.languages import LANGUAGES, base
        if base(data.language) not in LANGUAGES:
            errors.append(f"Language {data.language!r} is not one the workbench knows: use a code such as en, de, "
                          f"es, hi or zh-CN ({len(LANGUAGES)} are known, listed in pipeline/languages.py).")
    for label, value in (("Primary colour", data.primary_color), ("Accent colour", data.accent_color),
                         ("Text colour", data.text_color)):
        try:
            parse_color(value)
        except ColorError as exc:
            errors.append(f"{label}: {exc}")
    chains = [("Writer chain", "writer", data.writer), ("Voice chain", "voice", data.voice)]
    if (data.visuals or "").strip():
        chains.append(("Visuals chain", "visuals", data.visuals))
    for label, kind, chain in chains:
        try:
            from pipeline.providers import chain_items, parse_item
            for item in chain_items(chain):
                parse_item(kind, item)
        except ValueError as exc:
            errors.append(f"{label}: {exc}")
    errors += caption_errors(data)
    if data.review not in REVIEW_MODES:
        errors.append(f"Review must be one of {', '.join(REVIEW_MODES)} (got {data.review!r}).")
    if data.default_format not in FORMATS:
        errors.append(f"Default format must be one of {', '.join(FORMATS)}.")
    else:
        try:
            validate_duration(int(data.default_duration), data.default_format)
        except (ConfigError, TypeError, ValueError) as exc:
            errors.append(f"Default duration: {exc}")
    return errors


def channel_warnings(data: ChannelInput, settings) -> list[str]:
    """What will not work yet with these (valid) settings, said when they are saved: chain items that cannot run
    without a missing key, and a language that no usable voice of the chain speaks."""
    from pipeline.languages import chain_problem
    from pipeline.providers import chain_items, make

    warnings, usable_voices = [], []
    for label, kind, chain in (("Writer chain", "writer", data.writer), ("Voice chain", "voice", data.voice)):
        usable = []
        for item in chain_items(chain):
            why = make(kind, item, settings).check(settings)
            if why:
                warnings.append(f"{label}: {item} cannot run yet ({why}); the next in the chain is used meanwhile.")
            else:
                usable.append(item)
        if not usable:
            warnings.append(f"{label}: nothing in '{chain}' can run now, so this channel cannot make videos yet.")
        if kind == "voice":
            usable_voices = usable
    if usable_voices:
        problem = chain_problem(" > ".join(usable_voices), data.language)
        if problem:
            warnings.append(problem)
    return warnings


def caption_errors(data: ChannelInput) -> list[str]:
    """What is wrong with a channel's caption options, each as an instruction (the limits live with the styles)."""
    from pipeline.media.captions import validate_caption_options
    return validate_caption_options(data.caption_style, (data.caption_font or "").strip(), data.caption_size,
                                    data.caption_outline, data.caption_shadow)


def list_channels(db: Database) -> list[dict]:
    return db.query_dicts("SELECT * FROM channels ORDER BY id")


def get_channel(db: Database, ref: int | str) -> dict:
    """A channel by id or by name (case-insensitive)."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        rows = db.query_dicts("SELECT * FROM channels WHERE id = ?", [int(ref)])
    else:
        rows = db.query_dicts("SELECT * FROM channels WHERE lower(name) = lower(?)", [ref.strip()])
    if not rows:
        names = ", ".join(c["name"] for c in list_channels(db)) or "none yet"
        raise ChannelError(f"There is no channel {ref!r}. Channels: {names}.")
    return rows[0]


def create_channel(db: Database, data: ChannelInput, workspace_id: int = 1) -> int:
    errors = validate(data)
    if errors:
        raise ChannelError(" ".join(errors))
    if db.query_one("SELECT 1 FROM channels WHERE lower(name) = lower(?)", [data.name.strip()]):
        raise ChannelError(f"A channel named {data.name.strip()!r} already exists: choose another name.")
    values = [getattr(data, f) for f in FIELDS]
    values[0] = data.name.strip()
    with db.write() as cur:
        return cur.execute(f"INSERT INTO channels ({', '.join(FIELDS)}, workspace_id) VALUES "
                           f"({', '.join('?' * len(FIELDS))}, ?) RETURNING id", [*values, workspace_id]).fetchall()[0][0]


def update_channel(db: Database, channel_id: int, data: ChannelInput) -> None:
    errors = validate(data)
    if errors:
        raise ChannelError(" ".join(errors))
    clash = db.query_one("SELECT id FROM channels WHERE lower(name) = lower(?) AND id <> ?", [data.name.strip(), channel_id])
    if clash:
        raise ChannelError(f"Another channel is already named {data.name.strip()!r}.")
    get_channel(db, channel_id)
    values = [getattr(data, f) for f in FIELDS]
    values[0] = data.name.strip()
    with db.write() as cur:
        cur.execute(f"UPDATE channels SET {', '.join(f'{f} = ?' for f in FIELDS)} WHERE id = ?", [*values, channel_id])


def check_deletable(db: Database, channel_id: int) -> dict:
    """The channel, if it may be deleted now (no queued or running jobs); else a ChannelError saying why."""
    channel = get_channel(db, channel_id)
    active = db.query_one("SELECT count(*) FROM jobs WHERE channel_id = ? AND status IN ('queued', 'running')", [channel_id])[0]
    if active:
        raise ChannelError(f"The channel has {active} queued or running jobs: cancel them or let them finish first.")
    return channel


def delete_channel(db: Database, channel_id: int) -> None:
    """Delete a channel with no queued or running jobs (its finished videos stay in the library), with its
    schedule and any YouTube tokens still stored (revoke them first: Workbench.delete_channel does)."""
    check_deletable(db, channel_id)
    with db.write() as cur:
        cur.execute("DELETE FROM youtube_accounts WHERE channel_id = ?", [channel_id])
        cur.execute("DELETE FROM schedules WHERE channel_id = ?", [channel_id])
        cur.execute("DELETE FROM channels WHERE id = ?", [channel_id])


def ensure_demo_channel(db: Database) -> int | None:
    """On first start, create the demo channel so a new operator can make a video at once."""
    if db.query_one("SELECT count(*) FROM channels")[0]:
        return None
    return create_channel(db, ChannelInput(DEMO_CHANNEL, niche="curious questions"))
