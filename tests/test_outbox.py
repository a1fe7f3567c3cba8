import json

from pipeline.providers.outbox import OutboxPublisher, slug
from pipeline.script import Script, Section
from pipeline.stages import youtube_body


def test_youtube_body_discloses_synthetic_media_and_audience():
    script = Script("A title", "Hook.", [Section("S", ["x."])], "CTA.", "Desc", ["a", "b"], 10, 150)
    body = youtube_body(script, {"language": "fr", "made_for_kids": True}, {"privacy": "unlisted"})
    assert body["status"]["containsSyntheticMedia"] is True
    assert body["status"]["selfDeclaredMadeForKids"] is True
    assert body["status"]["privacyStatus"] == "unlisted"
    assert body["snippet"] == {"title": "A title", "description": "Desc", "tags": ["a", "b"], "categoryId": "27",
                               "defaultLanguage": "fr", "defaultAudioLanguage": "fr"}
    scheduled = youtube_body(script, {}, {"privacy": "public", "publish_at": "2026-12-01T15:00:00Z"})
    assert scheduled["status"]["publishAt"] == "2026-12-01T15:00:00Z"
    assert scheduled["status"]["privacyStatus"] == "private"  # YouTube requires it for scheduled videos


def test_outbox_writes_a_folder_per_video_and_republishing_is_idempotent(tmp_path):
    video, thumb, captions = tmp_path / "v.mp4", tmp_path / "t.jpg", tmp_path / "c.srt"
    video.write_bytes(b"video")
    thumb.write_bytes(b"thumb")
    captions.write_text("1\n")
    publisher = OutboxPublisher(tmp_path / "outbox")
    body = {"snippet": {"title": "x"}, "status": {"containsSyntheticMedia": True}}
    first = publisher.publish(3, "Deep Sea / Facts", video, thumb, body, captions=captions)
    again = publisher.publish(3, "Deep Sea / Facts", video, thumb, body, captions=captions)
    folder = tmp_path / "outbox" / "deep-sea-facts" / "3"
    assert first.ref == again.ref == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["captions.srt", "metadata.json", "thumbnail.jpg", "video.mp4"]
    assert json.loads((folder / "metadata.json").read_text()) == body
    assert first.usage[0].provider == "outbox"
    assert slug("  ") == "channel"
