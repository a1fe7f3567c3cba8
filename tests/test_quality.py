import pytest
from PIL import Image

from pipeline import quality
from pipeline.media.ffmpeg import AudioStats, StreamInfo
from pipeline.script import Script, Section

GOOD = StreamInfo(duration_s=60, video_codec="h264", width=1920, height=1080, audio_codec="aac", faststart=True)


@pytest.mark.parametrize("actual, score", [(60, 1.0), (54, 1.0), (66, 1.0), (48, 0.6667), (75, 0.5), (30, 0.0), (90, 0.0)])
def test_duration_ramp(actual, score):
    assert quality.check_duration(actual, 60).score == pytest.approx(score, abs=1e-3)


def test_silent_or_missing_audio_fails():
    assert quality.check_audio(StreamInfo(audio_codec=None), AudioStats(-91, -91, 0, 60)).score == 0
    assert quality.check_audio(GOOD, AudioStats(-91, -91, 60, 60)).score == 0
    assert quality.check_audio(GOOD, AudioStats(-20, -3, 2, 60)).score == 1
    half_silent = quality.check_audio(GOOD, AudioStats(-25, -3, 15, 60))
    assert 0 < half_silent.score < 1 and "25% of the video is silence" in half_silent.message


def test_format_check_names_each_problem():
    bad = StreamInfo(duration_s=60, video_codec="hevc", width=1280, height=720, audio_codec="mp3", faststart=False)
    check = quality.check_format(bad, (1920, 1080))
    assert check.score == 0
    for part in ("1280x720 instead of 1920x1080", "hevc", "mp3", "faststart"):
        assert part in check.message
    assert quality.check_format(GOOD, (1920, 1080)).score == 1


def test_script_check_rewards_length_and_plain_words():
    plain = Script("T", "Hi there.", [Section("A", ["The cat sat on the mat."] * 10)], "Bye now.", "", [], 66, 150)
    assert quality.check_script(plain).score == 1
    dense = Script("T", "Hi.", [Section("A", ["Incomprehensible multidimensional epistemological considerations proliferate."] * 3)],
                   "Bye.", "", [], 200, 150)
    check = quality.check_script(dense)
    assert check.score < 0.5 and "reading ease" in check.message


def test_thumbnail_check(tmp_path):
    good = tmp_path / "t.jpg"
    Image.new("RGB", (1280, 720), "red").save(good, "JPEG")
    assert quality.check_thumbnail(good).score == 1
    small = tmp_path / "s.png"
    Image.new("RGB", (640, 360), "red").save(small, "PNG")
    check = quality.check_thumbnail(small)
    assert check.score == 0 and "640x360" in check.message and "PNG" in check.message
    assert quality.check_thumbnail(None).score == 0


def test_score_is_the_weighted_mean_and_gates_at_the_threshold():
    checks = [quality.Check("a", 1.0, 30, "", "", ""), quality.Check("b", 0.0, 10, "", "", "")]
    report = quality.evaluate(checks, 70)
    assert report.score == 75.0 and report.passed
    assert not quality.evaluate(checks, 80).passed
    detail = report.to_dict()
    assert detail["checks"][1]["passed"] is False and detail["threshold"] == 70
