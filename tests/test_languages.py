"""Which voice speaks which language, the script's detected language, and the gate's blocking checks."""

import pytest

from pipeline import languages
from pipeline.config import ConfigError, Settings
from pipeline.quality import Check, evaluate
from pipeline.quality_lang import check_glyphs, check_language


@pytest.mark.parametrize("code, base, locale", [("en", "en", "en-US"), ("en-GB", "en", "en-GB"), ("zh", "zh", "cmn-CN"),
                                                ("zh-CN", "zh", "cmn-CN"), ("zh_TW", "zh", "cmn-TW"), ("pt", "pt", "pt-BR"),
                                                ("de-AT", "de", "de-AT"), ("nb", "no", "nb-NO")])
def test_codes_fold_to_a_language_and_a_google_locale(code, base, locale):
    assert languages.base(code) == base and languages.google_locale(code) == locale


def test_the_local_voice_speaks_english_only_and_the_cloud_voices_by_their_models():
    assert languages.speaks("piper", "en-US") and not languages.speaks("piper", "zh")
    assert languages.speaks("google-neural2", "zh") and languages.speaks("google-standard", "hi")
    assert languages.speaks("elevenlabs", "ja") and not languages.speaks("elevenlabs:eleven_monolingual_v1", "ja")
    problem = languages.chain_problem("piper", "zh")
    assert "speaks Chinese" in problem and "google-neural2" in problem and "elevenlabs" in problem
    assert languages.chain_problem("piper > google-wavenet", "zh") is None


@pytest.mark.parametrize("text, code", [
    ("Octopuses have three hearts and blue blood, and they taste with their suckers.", "en"),
    ("章鱼有三颗心脏和蓝色的血液，它们用吸盘品尝味道。", "zh"),
    ("Осьминоги имеют три сердца и голубую кровь.", "ru"),
    ("Der Oktopus hat drei Herzen und blaues Blut.", "de"),
])
def test_the_script_language_is_detected(text, code):
    detected, confidence = languages.detect(text)
    assert detected == code and confidence > 0.8
    assert languages.detect("Hi.") == ("", 0.0)  # too short to tell: no verdict


def test_a_voice_in_another_language_than_the_script_holds_the_video_whatever_its_score():
    chinese = "章鱼有三颗心脏和蓝色的血液，它们用吸盘品尝味道，而且能够打开瓶子。"
    wrong = check_language(chinese, "en", "zh")  # Piper (English) on a Chinese channel
    assert not wrong.passed and wrong.blocking and "channel's language is Chinese" in wrong.message
    mismatch = check_language(chinese, "en", "en")  # an English channel with a Chinese script
    assert not mismatch.passed and "reads as Chinese" in mismatch.message
    assert check_language(chinese, "zh", "zh-CN").passed
    good = [Check("duration", 1.0, 100, "", "", "")]
    assert evaluate(good + [check_language(chinese, "zh", "zh")], 70).passed
    report = evaluate(good + [mismatch], 70)
    assert report.score > 70 and not report.passed  # blocking: a high score does not carry it


def test_characters_without_a_glyph_are_named_and_hold_the_video():
    fine = check_glyphs({"title": "Octopus 章鱼 أخطبوط ऑक्टोपस 🐙", "narration": "Привет, Γειά σου"})
    assert fine.passed, fine.message
    boxes = check_glyphs({"title": "Octopus \U000F0001"})  # a private-use character no shipped font has
    assert not boxes.passed and boxes.blocking and "U+F0001" in boxes.message and "title" in boxes.message


def test_a_channel_whose_language_no_usable_voice_speaks_is_refused_before_queueing(tmp_path):
    from pipeline.channels import ChannelInput, create_channel
    from pipeline.workbench import VideoRequest, Workbench

    with Workbench(Settings(data_dir=tmp_path / "data"), start_worker=False) as wb:
        create_channel(wb.db, ChannelInput("Zhangyu", language="zh", voice="google-neural2 > piper"))
        with pytest.raises(ConfigError, match="No usable voice in 'piper' speaks Chinese"):  # Google has no key
            wb.enqueue(VideoRequest("章鱼为什么聪明", channel="Zhangyu"))
        assert wb.db.query_one("SELECT count(*) FROM jobs")[0] == 0
