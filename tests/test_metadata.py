"""What the app publishes: titles, descriptions and tags within YouTube's limits as YouTube counts
them, and a publishAt that has gone by moved to the next schedule slot (or dropped)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import regex

from pipeline import jobs
from pipeline.channels import ChannelInput, create_channel, get_channel
from pipeline.config import Settings
from pipeline.script import Script, Section
from pipeline.stages import StageContext, publish, youtube_body
from pipeline.workbench import Workbench
from pipeline.youtube.crypto import new_key
from pipeline.youtube.metadata import (DESCRIPTION_MAX_BYTES, TAGS_MAX, TITLE_MAX, clean_body, clean_description,
                                       clean_tags, clean_title, tags_length)
from pipeline.youtube.schedule import MIN_LEAD, ScheduleError, next_slot, save_schedule, settle_publish_at

UTC = timezone.utc


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def graphemes(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def youtube_tag_string(tags: list[str]) -> str:
    """The string YouTube measures against 500: tags joined by commas, a tag with a space quoted."""
    return ",".join(f'"{t}"' if " " in t else t for t in tags)


# -- titles ------------------------------------------------------------------------------------

def test_a_300_character_title_of_emoji_and_cjk_is_cut_to_100_between_graphemes():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one grapheme, five code points, eight UTF-16 units
    title = ("🐙章鱼" + family + "🇯🇵é") * 40  # é decomposed below: NFC must compose it
    title = title.replace("é", "e\u0301")
    assert len(title) >= 300
    out = clean_title(title)
    assert 0 < utf16(out) <= TITLE_MAX and len(out) <= TITLE_MAX
    assert len(out.encode("utf-8")) < len(title.encode("utf-8"))
    whole = graphemes(title.replace("e\u0301", "é"))
    assert graphemes(out) == whole[:len(graphemes(out))], "cut inside an emoji sequence or an accent"
    assert "\u0301" not in out  # composed (NFC)


@pytest.mark.parametrize("raw, expected", [
    ("<script>alert(1)</script>Octopus <b>facts</b>", "Octopus facts"),
    ("![x](http://evil.example/p.png) [click](http://evil.example) here", "click here"),
    ("**Bold** _claims_ and `code` # kept", "Bold claims and code # kept"),
    ("## Why octopuses are smart ##", "Why octopuses are smart"),
    ("Watch this: https://evil.example/x?y=1 now www.evil.example", "Watch this: now"),
    ("Octopus arms #Shorts", "Octopus arms #Shorts"),
    ("snake_case, 2*3*4 and a < b > c", "snake_case, 2*3*4 and a b c"),
    ("Tom &amp; Jerry\x00\x07\u202e\u200b\n\ttonight", "Tom & Jerry tonight"),
    ("[a](javascript:alert(1)) <!-- hidden -->", "a"),
])
def test_titles_lose_markup_urls_and_angle_brackets(raw, expected):
    out = clean_title(raw, "topic")
    assert out == expected
    assert "<" not in out and ">" not in out and "http" not in out


@pytest.mark.parametrize("raw", ["https://evil.example/watch?v=1", "  ", "<script>x</script>", "![](http://e.x/p.png)"])
def test_an_empty_or_url_only_title_falls_back_to_the_topic_cleaned(raw):
    assert clean_title(raw, "Why **octopuses** are <b>smart</b> https://x.example") == "Why octopuses are smart"
    assert clean_title(raw, "") == "Untitled video"  # YouTube refuses an empty title


def test_a_long_title_is_cut_at_a_word_when_one_is_near_the_end():
    out = clean_title("word " * 40)
    assert utf16(out) <= TITLE_MAX and out.endswith("word") and not out.endswith(" ")


# -- descriptions ------------------------------------------------------------------------------

def test_a_description_of_6000_bytes_of_multibyte_text_fits_5000_bytes_at_a_line_break():
    line = "章鱼有三颗心脏🐙" * 10  # 3-byte CJK and a 4-byte emoji
    text = "\n".join([line] * 25)
    assert len(text.encode("utf-8")) > 6000
    out = clean_description(text)
    size = len(out.encode("utf-8"))
    assert 0.75 * DESCRIPTION_MAX_BYTES < size <= DESCRIPTION_MAX_BYTES
    assert text.startswith(out) and out.endswith(line), "cut at a line boundary, never inside a character"


def test_a_description_with_no_breaks_is_cut_at_a_character_boundary():
    text = "🇫🇷章" * 1000  # flags are two code points: never split one
    out = clean_description(text)
    assert len(out.encode("utf-8")) <= DESCRIPTION_MAX_BYTES
    assert graphemes(out) == graphemes(text)[:len(graphemes(out))]


def test_descriptions_keep_plain_urls_and_lose_markdown_and_html():
    text = ("# Intro\nSome **bold** and _odd_ text: [the paper](https://example.org/a_b_c_) and "
            "![pixel](http://evil.example/p.png).\n* one\n+ two\n<script>steal()</script><b>bold</b> "
            "https://x.example/_under_score_ and www.example.org/*star*\n[ref]: https://ref.example\n---\n> quoted")
    out = clean_description(text)
    assert "<" not in out and ">" not in out and "steal" not in out and "evil.example" not in out
    assert "the paper: https://example.org/a_b_c_" in out
    assert "https://x.example/_under_score_" in out and "www.example.org/*star*" in out
    assert "**" not in out and "# Intro" not in out and "• one\n• two" in out and "ref: https://ref.example" in out
    assert out.startswith("Intro\nSome bold and odd text")


# -- tags --------------------------------------------------------------------------------------

def test_the_tag_limit_counts_commas_and_quotes_around_a_tag_with_a_space():
    assert tags_length(["Foo-Baz"]) == 7 and tags_length(["Foo Baz"]) == 9  # the API reference's own example
    assert tags_length(["a", "b c"]) == len(youtube_tag_string(["a", "b c"])) == 7


def test_sixty_tags_with_duplicates_fit_500_characters_as_youtube_counts_them():
    raw = []
    for i in range(20):
        raw += [f"octopus fact {i:02d} extra words here", f"OCTOPUS   Fact {i:02d}\textra words here", f"tag{i}"]
    raw += ["", "  ", "<b>", "a,b", 'say "hi"', "https://evil.example/tag"]
    out = clean_tags(raw)
    assert utf16(youtube_tag_string(out)) <= TAGS_MAX and tags_length(out) <= TAGS_MAX
    assert len({t.casefold() for t in out}) == len(out), "duplicates ignoring case and spacing"
    assert all(t and t == " ".join(t.split()) and not set(t) & set('<>,"') for t in out)
    assert out[:3] == ["octopus fact 00 extra words here", "tag0", "octopus fact 01 extra words here"]
    left_out = {t for t in raw if t.strip() and " ".join(t.split()).casefold() not in {o.casefold() for o in out}}
    assert left_out and all(tags_length([*out, t]) > TAGS_MAX for t in left_out if "," not in t and "<" not in t
                            and "http" not in t), "every tag that was left out would not have fitted"


def test_a_tag_too_long_to_fit_does_not_keep_shorter_ones_out_and_commas_split_tags():
    out = clean_tags(["x" * 501, "a, b", "b", "c d"])
    assert out == ["a", "b", "c d"]
    assert clean_tags(["y" * 495, "zz"]) == ["y" * 495, "zz"]  # 495 + 1 comma + 2 = 498
    assert clean_tags(["y" * 495, "zzzz z"]) == ["y" * 495]  # 495 + 1 + 6 + 2 quotes = 504


# -- the videos.insert body --------------------------------------------------------------------

def hostile_script() -> Script:
    return Script("<script>alert(1)</script>![p](http://evil.example/p.png)", "Hook.", [Section("S", ["x."])], "CTA.",
                  "**Read** [more](https://example.org) <img src=x>\n" + "说" * 3000,
                  ["Octopus", "octopus", " OCTOPUS ", "<x>", "", "squid, ink"], 10, 150)


def test_youtube_body_cleans_whatever_the_writer_gave_and_falls_back_to_the_topic():
    body = youtube_body(hostile_script(), {"language": "en"}, {"privacy": "public", "topic": "Octopus **arms**"})
    snippet = body["snippet"]
    assert snippet["title"] == "Octopus arms"
    assert snippet["description"].startswith("Read more: https://example.org\n")
    assert len(snippet["description"].encode("utf-8")) <= DESCRIPTION_MAX_BYTES and "<" not in snippet["description"]
    assert snippet["tags"] == ["Octopus", "squid", "ink"]
    assert body["status"]["containsSyntheticMedia"] is True
    assert clean_body(body, "t") == body  # cleaning is idempotent


# -- next_slot ---------------------------------------------------------------------------------

@pytest.mark.parametrize("times, tz, after, expected", [
    (["09:00", "17:30"], "Europe/Paris", datetime(2026, 11, 26, 6, 30), datetime(2026, 11, 26, 8, 0)),  # later today
    (["09:00", "17:30"], "Europe/Paris", datetime(2026, 11, 26, 8, 0), datetime(2026, 11, 26, 8, 0)),  # at the slot
    (["09:00", "17:30"], "Europe/Paris", datetime(2026, 11, 26, 17, 0), datetime(2026, 11, 27, 8, 0)),  # tomorrow
    (["23:30"], "America/Los_Angeles", datetime(2026, 11, 26, 6, 0), datetime(2026, 11, 26, 7, 30)),  # local yesterday
    (["00:15"], "Asia/Kolkata", datetime(2026, 11, 26, 19, 0), datetime(2026, 11, 26, 18, 45)
     + timedelta(days=1)),  # a half-hour zone, past midnight there
    # DST: 09:00 New York is 14:00 UTC on Saturday (EST) and 13:00 UTC on Sunday 8 March 2026 (EDT)
    (["09:00"], "America/New_York", datetime(2026, 3, 7, 15, 0), datetime(2026, 3, 8, 13, 0)),
    (["02:30"], "America/New_York", datetime(2026, 3, 8, 0, 0), datetime(2026, 3, 8, 7, 30)),  # skipped: 03:30 EDT
    (["01:30"], "America/New_York", datetime(2026, 11, 1, 0, 0), datetime(2026, 11, 1, 5, 30)),  # repeated: first
    (["09:00"], "Europe/London", datetime(2026, 3, 28, 10, 0), datetime(2026, 3, 29, 8, 0)),  # BST starts
])
def test_next_slot(times, tz, after, expected):
    assert next_slot(times, tz, after) == expected
    aware = next_slot(times, tz, after.replace(tzinfo=UTC))
    assert aware == expected.replace(tzinfo=UTC) and aware.tzinfo is not None


def test_next_slot_needs_times():
    with pytest.raises(ScheduleError):
        next_slot([], "UTC", datetime(2026, 1, 1))


# -- settle_publish_at -------------------------------------------------------------------------

NOW = datetime(2026, 11, 26, 7, 50, tzinfo=UTC)
SCHEDULED = {"snippet": {}, "status": {"privacyStatus": "private", "publishAt": "2026-11-26T08:00:00Z"}}
PARIS = (["09:00", "17:30"], "Europe/Paris")


def test_a_publish_at_far_enough_ahead_is_kept():
    body, moved = settle_publish_at(SCHEDULED, "public", PARIS, NOW - timedelta(hours=1))
    assert body is SCHEDULED and moved is None
    assert settle_publish_at({"status": {"privacyStatus": "public"}}, "public", PARIS, NOW)[1] is None


@pytest.mark.parametrize("now", [NOW, NOW + timedelta(hours=2)])  # 10 minutes ahead (too close), or gone by
def test_a_publish_at_gone_by_moves_to_the_next_slot_at_least_15_minutes_ahead(now):
    body, moved = settle_publish_at(SCHEDULED, "public", PARIS, now)
    assert body["status"]["publishAt"] == "2026-11-26T16:30:00Z" and body["status"]["privacyStatus"] == "private"
    assert moved["from"] == "2026-11-26T08:00:00Z" and moved["to"] == "2026-11-26T16:30:00Z"
    assert SCHEDULED["status"]["publishAt"] == "2026-11-26T08:00:00Z"  # the input is not changed
    late = settle_publish_at(SCHEDULED, "public", PARIS, datetime(2026, 11, 26, 16, 20, tzinfo=UTC))[0]
    assert late["status"]["publishAt"] == "2026-11-27T08:00:00Z"  # 16:30 is under 15 minutes away


def test_without_a_schedule_a_publish_at_gone_by_is_dropped_and_the_video_goes_out_now():
    body, moved = settle_publish_at(SCHEDULED, "unlisted", None, NOW + timedelta(hours=2))
    assert "publishAt" not in body["status"] and body["status"]["privacyStatus"] == "unlisted"
    assert moved["to"] is None and "no schedule" in moved["why"]
    assert settle_publish_at({"status": {"publishAt": "soon"}}, "public", None, NOW)[1]["why"].startswith(
        "publishAt is not a readable time")


# -- the publish stage -------------------------------------------------------------------------

KEY = new_key()


@pytest.fixture
def wb(tmp_path, yt):
    settings = Settings(data_dir=tmp_path / "data", token_key=KEY, youtube_api_root=yt.url + "/",
                        youtube_analytics_root=yt.url + "/", oauth_token_uri=yt.url + "/token",
                        upload_chunk_kb=256, retry_base_s=0.01)
    bench = Workbench(settings, start_worker=False)
    yield bench
    bench.close()


def connect(wb, cid: int) -> None:
    secret = {"installed": {"client_id": "proj-meta-client.apps.googleusercontent.com", "client_secret": "s",
                            "project_id": "proj-meta", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                            "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"]}}
    token = {"refresh_token": "refresh-meta", "token": None, "scopes": ["https://www.googleapis.com/auth/youtube.upload"]}
    wb.youtube.add_account(cid, json.dumps(secret), json.dumps(token))


def stage_context(wb, tmp_path: Path, cid: int, brief: dict) -> StageContext:
    job_id = jobs.create_job(wb.db, cid, "Octopus arms", 12, "landscape", brief, stages=("publish",))
    job_dir = tmp_path / f"job{job_id}"
    job_dir.mkdir()
    (job_dir / "video.mp4").write_bytes(os.urandom(300 * 1024))
    (job_dir / "thumbnail.jpg").write_bytes(b"\xff\xd8jpeg")
    artifacts = {"script": hostile_script().save(job_dir / "script.json"), "video": job_dir / "video.mp4",
                 "thumbnail": job_dir / "thumbnail.jpg"}
    return StageContext(jobs.get_job(wb.db, job_id), get_channel(wb.db, cid), wb.settings, job_dir, artifacts,
                        youtube=wb.youtube.publisher, db=wb.db)


def run_publish(ctx: StageContext) -> tuple[dict, set[str]]:
    """Publish; the receipt and the next slots that could be the answer (the clock moves meanwhile)."""
    before = datetime.now(UTC)
    publish(ctx)
    after = datetime.now(UTC)
    receipt = json.loads((ctx.job_dir / "publish.json").read_text())
    return receipt, {next_slot(["06:00", "18:00"], "America/New_York", t + MIN_LEAD).strftime("%Y-%m-%dT%H:%M:%SZ")
                     for t in (before, after)}


PAST = {"privacy": "public", "publish_at": "2020-01-01T12:00:00Z"}


def test_a_past_publish_at_is_uploaded_at_the_next_slot_of_the_channel_schedule(wb, yt, tmp_path):
    cid = create_channel(wb.db, ChannelInput("Meta"))
    connect(wb, cid)
    save_schedule(wb.db, cid, "06:00, 18:00", "America/New_York", None, 60, "landscape", "public")
    receipt, slots = run_publish(stage_context(wb, tmp_path, cid, PAST))
    [video] = yt.videos.values()
    sent = video["body"]
    assert sent["status"]["publishAt"] in slots and sent["status"]["privacyStatus"] == "private"
    assert receipt["publish_at_moved"]["from"] == "2020-01-01T12:00:00Z"
    assert receipt["publish_at_moved"]["to"] == sent["status"]["publishAt"] and receipt["state"] == "scheduled"
    assert sent["snippet"]["title"] == "Octopus arms" and sent["snippet"]["tags"] == ["Octopus", "squid", "ink"]
    assert len(sent["snippet"]["description"].encode("utf-8")) <= DESCRIPTION_MAX_BYTES
    assert receipt["body"] == sent  # the receipt says what YouTube got


def test_without_a_schedule_a_past_publish_at_is_dropped_and_the_outbox_gets_the_same_body(wb, tmp_path):
    cid = create_channel(wb.db, ChannelInput("Outbox Only"))  # not connected: the local outbox
    receipt, _ = run_publish(stage_context(wb, tmp_path, cid, PAST))
    metadata = json.loads((Path(receipt["ref"]) / "metadata.json").read_text())
    assert metadata == receipt["body"]
    assert "publishAt" not in metadata["status"] and metadata["status"]["privacyStatus"] == "public"
    assert receipt["publish_at_moved"]["to"] is None
    assert metadata["snippet"]["title"] == "Octopus arms" and "<" not in metadata["snippet"]["description"]


def test_a_future_publish_at_is_left_alone_and_the_outbox_follows_the_schedule_too(wb, tmp_path):
    cid = create_channel(wb.db, ChannelInput("Outbox Scheduled"))
    save_schedule(wb.db, cid, "06:00, 18:00", "America/New_York", None, 60, "landscape", "public")
    ahead = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    receipt, _ = run_publish(stage_context(wb, tmp_path, cid, {"privacy": "public", "publish_at": ahead}))
    assert receipt["body"]["status"]["publishAt"] == ahead and "publish_at_moved" not in receipt
    receipt, slots = run_publish(stage_context(wb, tmp_path, cid, PAST))
    assert receipt["body"]["status"]["publishAt"] in slots


def test_a_schedule_holds_at_most_24_times_a_day():
    from pipeline.youtube.schedule import ScheduleError, parse_times
    assert len(parse_times(", ".join(f"{h:02d}:00" for h in range(24)))) == 24
    with pytest.raises(ScheduleError, match="at most 24"):
        parse_times(", ".join(f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 30)))
    with pytest.raises(ScheduleError, match="at most 24"):
        parse_times("09:00, " * 10_000)
