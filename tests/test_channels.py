import pytest

from pipeline import jobs
from pipeline.channels import (ChannelError, ChannelInput, channel_warnings, create_channel, delete_channel,
                               ensure_demo_channel, get_channel, list_channels, update_channel, validate)
from pipeline.config import Settings


def test_demo_channel_only_on_first_start(db):
    assert ensure_demo_channel(db) is not None
    assert ensure_demo_channel(db) is None
    assert [c["name"] for c in list_channels(db)] == ["Demo Channel"]


@pytest.mark.parametrize("field, value, message", [
    ("name", "  ", "Name is required"),
    ("primary_color", "blue", "Primary colour"),
    ("accent_color", "#12345", "Accent colour"),
    ("language", "english!", "Language"),
    ("language", "xx", "not one the workbench knows"),
    ("caption_style", "wobbly", "sentence"),
    ("caption_size", 400, "200"),
    ("default_format", "square", "Default format"),
    ("default_duration", 5, "out of range"),
])
def test_validation_says_what_to_fix(field, value, message):
    data = ChannelInput("Ok")
    setattr(data, field, value)
    assert any(message in e for e in validate(data))


def test_shorts_default_duration_is_capped():
    assert any("Shorts" in e for e in validate(ChannelInput("S", default_format="shorts", default_duration=600)))


def test_create_update_delete(db):
    cid = create_channel(db, ChannelInput("Space Daily", niche="space", primary_color="#000000"))
    assert get_channel(db, "space daily")["id"] == cid
    assert get_channel(db, cid)["niche"] == "space"
    with pytest.raises(ChannelError, match="already exists"):
        create_channel(db, ChannelInput("SPACE DAILY"))
    update_channel(db, cid, ChannelInput("Space Weekly", niche="space", accent_color="#ff0000"))
    assert get_channel(db, cid)["accent_color"] == "#ff0000"
    delete_channel(db, cid)
    with pytest.raises(ChannelError, match="no channel"):
        get_channel(db, cid)


def test_a_channel_with_running_jobs_cannot_be_deleted(db):
    cid = create_channel(db, ChannelInput("Busy"))
    jobs.create_job(db, cid, "t", 60, "landscape", {})
    with pytest.raises(ChannelError, match="queued or running"):
        delete_channel(db, cid)


def test_invalid_update_changes_nothing(db):
    cid = create_channel(db, ChannelInput("Keep"))
    with pytest.raises(ChannelError):
        update_channel(db, cid, ChannelInput("Keep", primary_color="nope"))
    assert get_channel(db, cid)["primary_color"] == "#1E2A44"


def test_saving_warns_of_what_cannot_run_yet(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")  # no keys
    assert channel_warnings(ChannelInput("Fine"), settings) == []  # local writer, Piper, English: all runs
    warned = channel_warnings(ChannelInput("Cloud", voice="google-neural2 > piper", writer="gpt-4.1-mini > local"),
                              settings)
    assert any("Voice chain: google-neural2 cannot run yet" in w and "GOOGLE_TTS_API_KEY" in w for w in warned)
    assert any("Writer chain: gpt-4.1-mini cannot run yet" in w for w in warned)
    chinese = channel_warnings(ChannelInput("Zhangyu", language="zh-CN", voice="google-neural2 > piper"), settings)
    assert any("No usable voice in 'piper' speaks Chinese" in w for w in chinese)
    stuck = channel_warnings(ChannelInput("Stuck", voice="elevenlabs"), settings)
    assert any("nothing in 'elevenlabs' can run now" in w for w in stuck)
