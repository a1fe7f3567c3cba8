"""Per-word timings from every voice, as the voice reports them (no transcription): the pure mapping in
pipeline.providers.words, Piper for real (its words checked against the energy of its own audio), and the
Google and ElevenLabs SDKs against their loopback fakes (words checked against the tones the fakes laid out)."""

from __future__ import annotations

from xml.sax.saxutils import escape

import dataclasses
import json
import wave
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from fakes import FakeElevenLabs, FakeGoogleTTS, spoken_pcm
from pipeline.config import Settings
from pipeline.providers.audio import LEAD_S, assemble
from pipeline.providers.elevenlabs_voice import ElevenLabsVoice
from pipeline.providers.google_tts import MAX_BYTES, GoogleTTSVoice
from pipeline.providers.piper_voice import PiperTTS
from pipeline.providers.words import (character_spans, estimated_spans, is_spoken, mark_spans, phoneme_spans,
                                      script_words, ssml, ssml_parts)

RATE = 1000  # synthetic alignments: one sample a millisecond keeps the arithmetic readable


def alignment(*words: str, pause: int = 20) -> list[tuple[str, int]]:
    """A Piper-like alignment: BOS, each phoneme word's symbols (10 samples each) with a spoken separator
    after it (a space, or punctuation then a space), EOS."""
    out = [("^", 30)]
    for i, word in enumerate(words):
        out += [(p, 10) for p in word]
        if i < len(words) - 1:
            out.append((" ", pause))
    return [*out, ("$", 40)]


def alone(*words: str) -> list[str]:
    """What espeak says for one written word alone, as a flat phoneme list ('' for nothing at all)."""
    return [p for w in words for p in [*w, " "]] if any(words) else []


def check_order(spans, length):
    assert all(0 <= a <= b <= length for a, b in spans)
    assert all(b0 <= a1 for (_, b0), (a1, _) in zip(spans, spans[1:]))


# -- Piper's phoneme mapping -----------------------------------------------------------------------

def test_spoken_phonemes_are_letters_and_marks_not_separators_or_markers():
    assert all(is_spoken(p) for p in ["a", "ɪ", "ˈ", "ː", "ʲ", "aɪ"])
    assert not any(is_spoken(p) for p in ["^", "$", " ", ",", ".", "!", ";", "_"])


def test_a_number_that_becomes_several_phoneme_words_is_one_written_word():
    # "In 1,990 ok." -> espeak: "ɪn wʌn θaʊzənd naɪnhʌndɹɪd naɪnti oʊkeɪ"
    said = ["ɪn", "wʌn", "θaʊzənd", "naɪnhʌndɹɪd", "naɪnti", "oʊkeɪ"]
    spans = phoneme_spans([alone("ˈɪn"), alone("wʌn", "θaʊzənd", "naɪnhʌndɹɪd", "naɪnti"), alone("oʊkeɪ")],
                          alignment(*said))
    assert len(spans) == 3
    assert spans[0] == (30, 50)  # after BOS, to the end of its last phoneme (not the space after it)
    first, last = 30 + 20 + 20, 30 + sum(10 * len(w) + 20 for w in said[:5]) - 20
    assert spans[1] == (first, last)  # "1,990": from "wʌn" to "naɪnti", the spaces inside it included
    assert spans[2][0] == last + 20 and spans[2][1] == spans[2][0] + 50


def test_a_punctuation_only_token_gets_a_zero_length_span_where_it_stands():
    spans = phoneme_spans([alone("həloʊ"), alone(""), alone("wɜːld")], alignment("həloʊ", "wɜːld"))
    assert spans[1][0] == spans[1][1] == spans[0][1]
    assert spans[2][0] > spans[1][1]
    lead = phoneme_spans([alone(""), alone("wɜːld")], alignment("wɜːld"))  # even as the first token
    assert lead[0] == (30, 30) and lead[1] == (30, 80)


def test_espeak_running_two_words_together_is_matched_by_phonemes():
    # "U.S.A. e.g." said alone: one phoneme word each; in context espeak runs them into one
    usa, eg = "juːɛseɪ", "iːdʒiː"
    spans = phoneme_spans([alone("ɪts"), alone(usa), alone(eg), alone("oʊkeɪ")],
                          alignment("ɪts", usa + eg, "oʊkeɪ"))
    check_order(spans, 10_000)
    start = 30 + 30 + 20
    assert spans[1] == (start, start + 10 * len(usa))  # the boundary lands where the phonemes say, not in proportion
    assert spans[2] == (start + 10 * len(usa), start + 10 * len(usa + eg))


def test_counts_that_disagree_entirely_fall_back_in_proportion_without_crashing():
    spans = phoneme_spans([alone("aaaa"), alone("bb"), alone("cccc", "dd")], alignment("xyzxyz", "qqqqqq"))
    check_order(spans, 10_000)
    assert all(b > a for a, b in spans)  # everyone gets some of the speech
    assert spans[0][0] == 30 and spans[-1][1] == 30 + 60 + 20 + 60
    assert phoneme_spans([alone("a")], [("^", 10), ("$", 10)]) == [(0, 0)]  # nothing spoken: nothing to map


# -- ElevenLabs' characters ------------------------------------------------------------------------

def char_times(text: str, step: float = 0.01):
    return list(text), [i * step for i in range(len(text))], [(i + 1) * step for i in range(len(text))]


def test_characters_are_grouped_into_the_written_words_punctuation_taking_no_time():
    text = 'Hello, "world" — again.'
    chars, starts, ends = char_times(text)
    spans = character_spans(text, chars, starts, ends, 100, 10_000)
    assert len(spans) == len(script_words(text)) == 4
    assert spans[0] == (0, 5)  # "Hello" without the comma
    assert spans[1] == (8, 13)  # "world" without its quotes
    assert spans[2] == (15, 15)  # the dash: zero length, where it stands
    assert spans[3] == (17, 22)


def test_characters_the_service_changed_are_matched_up():
    text = "It’s 5 o’clock now."
    said = text.replace("’", "'").replace(" now", "  now")  # straight quotes, a doubled space
    chars, starts, ends = char_times(said)
    spans = character_spans(text, chars, starts, ends, 100, 10_000)
    check_order(spans, 10_000)
    assert len(spans) == 4 and spans[0] == (0, 4) and spans[3] == (16, 19)
    assert character_spans("Hi there", ["H", "i"], [0.0, 0.1], [0.1, 0.2], 100, 10_000) == [(0, 20), (20, 20)]


# -- Google's SSML ---------------------------------------------------------------------------------

def test_ssml_marks_every_word_and_escapes_the_text():
    words = script_words('Salt & pepper <3 "quoted" it\'s')
    document = ssml(list(enumerate(words)))
    root = ET.fromstring(document)  # well-formed XML
    assert root.tag == "speak" and [m.get("name") for m in root] == [f"w{i}" for i in range(len(words))]
    assert [m.tail.strip() for m in root] == words
    assert "&amp;" in document and "&lt;3" in document


def test_ssml_parts_keep_each_request_under_the_byte_limit_counting_marks_and_escapes():
    words = ["é" * 30] * 100 + ["&&&&"] * 300  # two bytes a letter, five an escaped ampersand
    parts = ssml_parts(words, MAX_BYTES)
    assert len(parts) > 1 and all(len(ssml(p).encode()) <= MAX_BYTES for p in parts)
    assert [i for p in parts for i, _ in p] == list(range(len(words)))  # every word once, in order
    assert len(ssml(parts[0]).encode()) > MAX_BYTES - 100  # and the requests are full, not timid
    huge = ssml_parts(["short", "x" * 12_000, "end"], MAX_BYTES)  # one "word" longer than a request
    assert all(len(ssml(p).encode()) <= MAX_BYTES for p in huge)
    assert "".join(t for p in huge for i, t in p if i == 1) == "x" * 12_000
    assert ssml_parts(["one", "two"], MAX_BYTES) == [[(0, "one"), (1, "two")]]


def test_marks_become_word_spans_with_the_pauses_trimmed():
    words = ["Octopuses", "have", "three", "hearts."]
    pcm, layout = spoken_pcm(words, 24000)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    fragments = list(enumerate(words))
    marks = {"w0": 0.0, **{f"w{i}": layout[i - 1][2] for i in range(1, len(words))}}  # at the pause's start
    spans = mark_spans(fragments, marks, samples, 24000)
    for i, (_, start, end) in enumerate(layout):
        assert spans[i][0] / 24000 == pytest.approx(start, abs=0.011)
        assert spans[i][1] / 24000 == pytest.approx(end, abs=0.011)
    del marks["w2"]  # a mark the service did not report: placed between its neighbours
    gappy = mark_spans(fragments, marks, samples, 24000)
    check_order([gappy[i] for i in range(4)], len(samples))
    assert spans[1][0] < gappy[2][0] < spans[3][0]


def test_without_a_report_words_share_the_speech_by_characters():
    pcm, layout = spoken_pcm(["ab", "abcd"], 24000, lead_s=0.2, tail_s=0.3)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    spans = estimated_spans(["ab", "—", "abcd"], samples, 24000)
    assert spans[0][0] / 24000 == pytest.approx(0.2, abs=0.011)  # the silence around the speech is not a word
    assert spans[2][1] / 24000 == pytest.approx(layout[-1][2], abs=0.011)
    assert spans[1][0] == spans[1][1]
    assert (spans[2][1] - spans[2][0]) == pytest.approx(2 * (spans[0][1] - spans[0][0]), abs=2)


def test_assemble_offsets_word_spans_into_the_narration(tmp_path):
    pieces = [("hook", "Two words.", np.ones(1000), [(100, 400, "Two"), (450, 1200, "words.")]),
              ("hook", "No words here.", np.ones(500))]  # a piece without spans still works
    cues, _ = assemble(pieces, 1000, tmp_path / "a.wav")
    assert cues[0].words[0].start == pytest.approx(LEAD_S + 0.1) and cues[0].words[0].text == "Two"
    assert cues[0].words[1].end == pytest.approx(cues[0].end)  # clipped to its own piece
    assert cues[1].words == []
    assert dataclasses.asdict(cues[0])["words"][0] == {"start": pytest.approx(0.5), "end": pytest.approx(0.8),
                                                       "text": "Two"}


# -- the voices ------------------------------------------------------------------------------------

def check_words(narration, blocks):
    """One Word per written word, in order, inside its sentence's cue, never going backwards."""
    sentences = [s for _, b in blocks for s in b]
    assert [c.text for c in narration.cues] == sentences
    previous = 0.0
    for cue in narration.cues:
        assert [w.text for w in cue.words] == script_words(cue.text)
        for w in cue.words:
            assert cue.start - 1e-9 <= w.start <= w.end <= cue.end + 1e-9
            assert w.start >= previous - 1e-9
            previous = w.end


def read_wav(path):
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768, rate


PIPER_BLOCKS = [("hook", ["Octopuses are clever.", "In 1,990, Dr. Smith counted 3.5% more arms — really!"]),
                ("section-1", ["Each arm can taste, touch and think on its own.", "Why? Nobody knows."])]


def test_piper_words_come_from_its_alignments_and_cover_the_speech(tmp_path):
    narration = PiperTTS().synthesize(PIPER_BLOCKS, tmp_path / "n.wav")
    assert narration.word_timing == "alignments"
    check_words(narration, PIPER_BLOCKS)
    audio, rate = read_wav(tmp_path / "n.wav")
    window = int(0.02 * rate)  # 20 ms frames of RMS energy
    frames = len(audio) // window
    rms = np.sqrt(np.mean(audio[: frames * window].reshape(frames, window) ** 2, axis=1))
    loud = rms > rms.max() * 10 ** (-30 / 20)  # speech: within 30 dB of the loudest frame
    starts = np.arange(frames) * window / rate
    words = [w for c in narration.cues for w in c.words]
    covered = np.zeros(frames, dtype=bool)
    for w in words:
        covered |= (starts < w.end) & (starts + window / rate > w.start)  # the frame overlaps the word
    assert covered[loud].mean() >= 0.9, f"only {covered[loud].mean():.0%} of the speech is inside a word"
    for w in words:
        if not any(ch.isalnum() for ch in w.text):
            assert w.start == w.end  # "—" is not said
            continue
        inside = (starts < w.end) & (starts + window / rate > w.start)
        assert loud[inside].any(), f"{w.text!r} ({w.start:.2f}-{w.end:.2f}s) holds no speech"
    timings = [dataclasses.asdict(c) for c in narration.cues]  # what the speak stage writes to timings.json
    assert json.loads(json.dumps(timings))[1]["words"][1]["text"] == "1,990,"


class WithoutAlignments:
    """A real Piper voice whose model could not be patched: it speaks, but reports no alignments."""

    def __init__(self, voice):
        self.voice, self.config = voice, voice.config

    def synthesize(self, text, syn_config=None, include_alignments=False):
        for chunk in self.voice.synthesize(text, syn_config=syn_config, include_alignments=include_alignments):
            yield dataclasses.replace(chunk, phoneme_alignments=None)

    def phonemize(self, text):
        return self.voice.phonemize(text)


class UnpatchedPiper(PiperTTS):
    def _voice(self, use_cuda, alignments=True):
        return WithoutAlignments(super()._voice(use_cuda, alignments))


def test_piper_without_alignments_estimates_its_words_and_says_so(tmp_path):
    blocks = [("hook", ["Octopuses are clever.", "Each arm can taste."])]
    narration = UnpatchedPiper().synthesize(blocks, tmp_path / "n.wav")
    assert narration.word_timing == "estimated"
    check_words(narration, blocks)
    assert all(w.end > w.start for c in narration.cues for w in c.words)


def cloud_settings(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", request_timeout_s=2.0, provider_retries=1, retry_base_s=0.01, **kw)


def check_against_layout(narration, layouts, tolerance=0.012):
    """Each word where the fake put its tone (the fakes lay out one request per sentence here)."""
    for cue, layout in zip(narration.cues, layouts, strict=True):
        assert [w.text for w in cue.words] == [w for w, _, _ in layout]
        for word, (_, start, end) in zip(cue.words, layout):
            assert word.start == pytest.approx(cue.start + start, abs=tolerance), word
            assert word.end == pytest.approx(cue.start + end, abs=tolerance), word


CLOUD_BLOCKS = [("hook", ["Salt & pepper <3 make octopus stew.", "Really?"]),
                ("cta", ['Subscribe — "now", please.'])]


def test_google_words_come_from_ssml_marks(tmp_path):
    with FakeGoogleTTS() as fake:
        voice = GoogleTTSVoice("neural2", cloud_settings(tmp_path, google_tts_api_key=fake.key,
                                                         google_tts_endpoint=fake.url))
        narration = voice.synthesize(CLOUD_BLOCKS, tmp_path / "n.wav")
        sent = [json.loads(r["body"]) for r in fake.requests]
    assert narration.word_timing == "ssml-marks"
    assert all(r["enableTimePointing"] == ["SSML_MARK"] and "ssml" in r["input"] for r in sent)
    assert all(r["path"].startswith("/v1beta1/text:synthesize") for r in fake.requests)
    check_words(narration, CLOUD_BLOCKS)
    check_against_layout(narration, fake.spoken)
    # billed: the SSML with its <speak> wrapper and escapes, not its marks
    assert narration.usage[0].quantity == sum(len(f"<speak>{escape(s)}</speak>") for _, b in CLOUD_BLOCKS for s in b)


def test_google_chirp3_hd_sends_plain_text_and_estimates_its_words(tmp_path):
    with FakeGoogleTTS() as fake:
        voice = GoogleTTSVoice("chirp3-hd", cloud_settings(tmp_path, google_tts_api_key=fake.key,
                                                           google_tts_endpoint=fake.url))
        narration = voice.synthesize(CLOUD_BLOCKS, tmp_path / "n.wav")
        sent = [json.loads(r["body"]) for r in fake.requests]
    assert narration.word_timing == "estimated"
    assert all("text" in r["input"] and not r.get("enableTimePointing") for r in sent)
    check_words(narration, CLOUD_BLOCKS)
    for cue, layout in zip(narration.cues, fake.spoken):  # estimates, but within the speech
        assert cue.words[0].start == pytest.approx(cue.start + layout[0][1], abs=0.011)
        assert cue.words[-1].end == pytest.approx(cue.start + layout[-1][2], abs=0.011)


def test_elevenlabs_words_come_from_its_character_alignment(tmp_path):
    with FakeElevenLabs(cost_factor=0.5) as fake:
        voice = ElevenLabsVoice("eleven_flash_v2_5", cloud_settings(tmp_path, elevenlabs_api_key=fake.key,
                                                                      elevenlabs_base_url=fake.url))
        narration = voice.synthesize(CLOUD_BLOCKS, tmp_path / "n.wav")
        paths = [r["path"] for r in fake.requests]
    assert narration.word_timing == "character-alignment"
    assert all("/with-timestamps" in p and "output_format=pcm_22050" in p for p in paths)
    check_words(narration, CLOUD_BLOCKS)
    check_against_layout(narration, fake.spoken, tolerance=0.001)
    assert narration.usage[0].quantity == sum(round(len(s) * 0.5) for _, b in CLOUD_BLOCKS for s in b)
