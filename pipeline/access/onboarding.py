"""The guided first half hour of a workspace: five steps, each ticked from what is really there.

Nothing here records a click: a step is done when the database (as the workspace's actor reads it) shows it,
so deleting the only channel unticks "Create a channel" again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.providers import chain_items, parse_item

DEFAULT_TOPIC = "Why octopuses are so smart"
EXAMPLE_SOURCE = Path(__file__).resolve().parents[2] / "data" / "examples" / "octopus.md"


@dataclass
class Step:
    key: str
    title: str
    done: bool
    detail: str
    page: str  # where the operator does it
    missing: list[str] = field(default_factory=list)


def checklist(wb) -> list[Step]:
    """The steps for the acting user's current workspace (``wb`` is an acting Workbench)."""
    db = wb.db
    chans = db.query_dicts("SELECT id, name, niche, writer, voice, visuals FROM channels ORDER BY id")
    branded = [c for c in chans if (c["niche"] or "").strip()]
    steps = [Step("channel", "Create a channel with its brand and niche", bool(branded),
                  f"{branded[0]['name']}: {branded[0]['niche']}" if branded else
                  "A channel has a name, a niche and brand colours; videos are made for it.", "pages/channels.py")]
    usable = {(r["capability"], r["provider"]): (r["usable"], r["why_not"]) for r in wb.providers()}
    missing: list[str] = []
    runs = bool(chans)
    for c in chans:
        for kind, chain in (("writer", c["writer"]), ("voice", c["voice"]), ("visuals", c["visuals"])):
            if not chain:
                continue
            ok_any = False
            for item in chain_items(chain):
                family = parse_item(kind, item)[0]
                ok, why = usable.get((kind, family), (True, ""))
                ok_any = ok_any or ok
                if not ok and why:
                    missing.append(f"{c['name']} · {kind} {item}: {why}")
            runs = runs and (ok_any or kind == "visuals")
    steps.append(Step("providers", "Choose providers and see which keys are missing", runs and not missing,
                      "Every provider your channels name can run." if runs and not missing else
                      "Each channel names a writer, a voice and visuals; local ones need no key." if not missing else
                      f"{len(missing)} provider(s) need a key (or drop them from the chain):",
                      "pages/channels.py", sorted(set(missing))))
    made = db.query_one("SELECT count(*) FROM videos WHERE video_path IS NOT NULL")[0]
    steps.append(Step("video", "Make a first video from a suggested trending topic", made > 0,
                      f"{made} video(s) made." if made else f"Suggested: {suggested_topic(wb)!r}", "pages/studio.py"))
    connected = db.query_one("SELECT count(*) FROM youtube_accounts WHERE status <> 'revoked'")[0]
    steps.append(Step("youtube", "Connect YouTube", connected > 0,
                      f"{connected} channel connection(s)." if connected else
                      "Until then videos go to the local outbox.", "pages/channels.py"))
    scheduled = db.query_one("SELECT count(*) FROM schedules WHERE enabled")[0]
    steps.append(Step("schedule", "Set a publishing schedule", scheduled > 0,
                      f"{scheduled} channel schedule(s)." if scheduled else
                      "A schedule makes and publishes videos at set times.", "pages/channels.py"))
    return steps


def suggestion(wb) -> tuple[str, str | None, int | None]:
    """(topic, country, topic id) of the top rising trending topic; (the example, None, None) while there is none."""
    from pipeline.queries import topic_momentum, trend_countries

    try:
        for country in trend_countries(wb.db):
            top = topic_momentum(wb.db, country)
            if top.height:
                return str(top["label"][0]), country, int(top["topic_id"][0])
    except Exception:  # noqa: BLE001 - trends still loading: the example topic
        pass
    return DEFAULT_TOPIC, None, None


def suggested_topic(wb) -> str:
    return suggestion(wb)[0]


def suggested_request(wb):
    """The request the checklist's one click queues: the trending topic with its related titles and tags (as the
    Trends page makes it), or the example with the source that ships with the project (a local-writer video
    without a source would be held by the quality gate)."""
    from pipeline.workbench import VideoRequest

    topic, country, topic_id = suggestion(wb)
    if country is not None and topic_id is not None:
        return wb.topic_request(country, topic_id)
    return VideoRequest(topic=topic, sources=[str(EXAMPLE_SOURCE)])


def progress(steps: list[Step]) -> tuple[int, int]:
    return sum(s.done for s in steps), len(steps)
