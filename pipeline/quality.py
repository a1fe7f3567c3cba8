"""The quality score (0-100) from measurable checks, and the gate before publishing.

Each check scores 0..1 with a weight and keeps its measured value, its target
and a sentence an operator can act on. The score is the weighted mean x 100;
under the threshold the job is held, not published.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from pipeline.media.ffmpeg import AudioStats, StreamInfo
from pipeline.media.thumbnail import MAX_BYTES
from pipeline.media.thumbnail import SIZE as THUMB_SIZE
from pipeline.script import Script, flesch_reading_ease


@dataclass
class Check:
    name: str
    score: float  # 0..1
    weight: float
    value: str
    target: str
    message: str

    @property
    def passed(self) -> bool:
        return self.score >= 0.999


@dataclass
class QualityReport:
    score: float
    threshold: float
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold

    def to_dict(self) -> dict:
        return {"score": self.score, "threshold": self.threshold, "passed": self.passed,
                "checks": [{**asdict(c), "passed": c.passed} for c in self.checks]}


def _ramp(error: float, ok: float, zero: float) -> float:
    """1 while error <= ok, falling linearly to 0 at zero."""
    if error <= ok:
        return 1.0
    if error >= zero:
        return 0.0
    return 1.0 - (error - ok) / (zero - ok)


def check_duration(actual_s: float, target_s: float) -> Check:
    error = abs(actual_s - target_s) / target_s if target_s else 1.0
    score = _ramp(error, 0.10, 0.40)
    msg = "on target" if score == 1 else (
        f"{actual_s:.0f} s against {target_s:.0f} s: {'lengthen' if actual_s < target_s else 'shorten'} the script or outline")
    return Check("duration", score, 25, f"{actual_s:.1f} s", f"{target_s:.0f} s ±10%", msg)


def check_audio(info: StreamInfo, stats: AudioStats) -> Check:
    if not info.audio_codec:
        return Check("audio", 0.0, 20, "no audio stream", "narration present", "the video has no sound: re-run the voice stage")
    if stats.max_db <= -60:
        return Check("audio", 0.0, 20, f"peak {stats.max_db:.0f} dB", "audible narration", "the narration is silent: check the voice provider")
    silent_share = stats.silence_s / stats.duration_s if stats.duration_s else 1.0
    score = _ramp(silent_share, 0.10, 0.50) * (1.0 if stats.mean_db > -35 else 0.5)
    msg = "narration audible throughout" if score == 1 else (
        f"{silent_share:.0%} of the video is silence, mean level {stats.mean_db:.0f} dB")
    return Check("audio", score, 20, f"mean {stats.mean_db:.1f} dB, {stats.silence_s:.1f} s silent", "≤10% silence, mean > -35 dB", msg)


def check_subtitles(coverage: float) -> Check:
    score = _ramp(1.0 - coverage, 0.05, 0.5)
    return Check("subtitles", score, 15, f"{coverage:.0%} of speech", "≥95% of speech subtitled",
                 "subtitles cover the narration" if score == 1 else "parts of the narration have no subtitle")


def check_format(info: StreamInfo, size: tuple[int, int]) -> Check:
    problems = []
    if (info.width, info.height) != size:
        problems.append(f"{info.width}x{info.height} instead of {size[0]}x{size[1]}")
    if info.video_codec != "h264":
        problems.append(f"video codec {info.video_codec}")
    if info.audio_codec and info.audio_codec != "aac":
        problems.append(f"audio codec {info.audio_codec}")
    if not info.faststart:
        problems.append("index not at the start (faststart)")
    score = 1.0 if not problems else 0.0
    return Check("format", score, 15, f"{info.width}x{info.height} {info.video_codec}/{info.audio_codec}",
                 f"{size[0]}x{size[1]} H.264/AAC, faststart", "; ".join(problems) or "ready for upload")


def check_script(script: Script) -> Check:
    ratio = script.word_count / script.target_words if script.target_words else 0.0
    length = _ramp(abs(1 - ratio), 0.15, 0.6)
    ease = flesch_reading_ease(script.spoken_text)
    readable = _ramp(max(0.0, 50 - ease), 0, 30)
    score = (length + readable) / 2
    notes = []
    if length < 1:
        notes.append(f"{script.word_count} words for a target of {script.target_words}")
    if readable < 1:
        notes.append(f"reading ease {ease:.0f} is hard for listeners: use shorter sentences and words")
    return Check("script", score, 15, f"{script.word_count} words, reading ease {ease:.0f}",
                 f"{script.target_words} words ±15%, reading ease ≥ 50", "; ".join(notes) or "length and readability fine")


def check_thumbnail(path: Path | None) -> Check:
    if path is None or not path.exists():
        return Check("thumbnail", 0.0, 10, "missing", "1280x720 JPEG < 2 MB", "no thumbnail: re-run the thumbnail stage")
    size = path.stat().st_size
    with Image.open(path) as img:
        dims, fmt = img.size, img.format
    problems = []
    if dims != THUMB_SIZE:
        problems.append(f"{dims[0]}x{dims[1]}")
    if size >= MAX_BYTES:
        problems.append(f"{size / 1e6:.1f} MB")
    if fmt != "JPEG":
        problems.append(f"format {fmt}")
    return Check("thumbnail", 0.0 if problems else 1.0, 10, f"{dims[0]}x{dims[1]} {fmt}, {size / 1024:.0f} KB",
                 "1280x720 JPEG < 2 MB", "; ".join(problems) or "ready for upload")


def evaluate(checks: list[Check], threshold: float) -> QualityReport:
    total = sum(c.weight for c in checks) or 1.0
    score = round(100 * sum(c.score * c.weight for c in checks) / total, 1)
    return QualityReport(score, threshold, checks)
