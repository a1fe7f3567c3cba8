"""Background music: each channel's folder of tracks, the choice of a track per video, and the mix.

Index. A channel has zero or one music folder (``music_folders``). :func:`index_music` walks it
(mp3, wav, flac, ogg, opus, m4a, aac), measures each track's length, integrated loudness and true
peak with ffmpeg's ``ebur128`` meter, reads its licence note (a sidecar ``<name>.licence.txt`` /
``<name>.txt``, else the folder's LICENSE, licence.txt or README) and stores it in
``music_tracks``. Indexing again is incremental: a file whose size and mtime are unchanged costs
a stat. Files that cannot be used are counted by reason in the :class:`MusicReport`.

Choice. :func:`choose_track` avoids the tracks of the channel's last :data:`RECENT_VIDEOS`
videos, prefers tracks long enough not to loop, and is deterministic for a seed (the job id).

Mix, in the render's own ffmpeg run (how render.py uses it)::

    levels = measure_mix(narration_wav, track, total_s)        # audio-only passes, a second or two
    inputs += ["-i", narration_wav]; n = input count - 1
    if track: inputs += music_input_args(track); m = input count - 1
    graph += mix_chains(f"{n}:a", m if track else None, total_s, track, levels)   # ends in [aout]

The narration is gain-staged to :data:`TARGET_LUFS`, the track to :data:`BED_BELOW_VOICE_LU`
under it, looped or trimmed to the video with fades, ducked by ``sidechaincompress`` keyed by a
copy of the narration, summed with ``amix`` (normalize=0), then brought to the target by one
linear gain measured beforehand and held under :data:`CEILING_DBTP` by a 4x-oversampled limiter.
(Single-pass dynamic ``loudnorm`` over the same mix came out at -14.9 LUFS and rode the music up
2 dB in the pauses: its gain follows the programme.)
Without a track the same two steps apply to the narration alone.

Limits: :data:`MAX_TRACKS` tracks per folder, :data:`MAX_TRACK_BYTES` and :data:`MAX_TRACK_S`
per track, :data:`MAX_LICENCE_BYTES` per licence file.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.db import Database
from pipeline.files import inside
from pipeline.media import ffmpeg

AUDIO_EXTENSIONS = frozenset({".mp3", ".wav", ".flac", ".ogg", ".opus", ".m4a", ".aac"})
MAX_TRACKS = 2_000
MAX_TRACK_BYTES = 500 * 2**20
MAX_TRACK_S = 2 * 3600.0
MIN_TRACK_S = 5.0  # shorter than this loops audibly every few seconds: not a bed
MAX_LICENCE_BYTES = 64 * 2**10
MAX_LICENCE_CHARS = 1_000
RECENT_VIDEOS = 5
PROBE_TIMEOUT_S = 30.0

TARGET_LUFS = -14.0  # YouTube's playback reference
CEILING_DBTP = -2.0  # the limiter's ceiling: AAC overshoots it by up to ~0.6 dB (measured), so 1 dB under -1 dBTP
BED_BELOW_VOICE_LU = 12.0  # the music's level in the pauses, under the narration's
FADE_IN_S = 1.5
FADE_OUT_S = 3.0
RATE = 48_000
# The duck. The key is the narration at TARGET_LUFS, whose speech sits around -13 dBFS RMS a channel,
# over 20 dB above the threshold (-36 dBFS): at ratio 20 the compressor all but closes, and ``mix`` blends
# the dry bed back in, so the depth is bounded at DUCK_DEPTH_DB (a ducker's "range") instead of following
# every syllable's level: the music sits still under the voice rather than pumping. Attack 25 ms pulls
# it down before a word's first syllable is masked; release 600 ms outlasts the gaps between words,
# and the music is back within about half a second of a pause.
DUCK_DEPTH_DB = 12.0
DUCK = {"threshold": 0.016, "ratio": 20.0, "attack": 25.0, "release": 600.0, "knee": 4.0,
        "mix": round(1 - 10 ** (-DUCK_DEPTH_DB / 20), 4)}
# The true-peak limiter runs at four times the rate, where sample peaks are true peaks (as the meter sees them).
LIMITER = {"attack": 5.0, "release": 80.0}
LIMITER_ROUNDS = 3  # measuring passes that correct the gain for what the limiter takes (about 0.3 s each a minute)
SETTLED_LU = 0.15  # close enough to the target to stop correcting


class MusicError(ValueError):
    """The music folder cannot be used as asked (missing, not a folder, unknown channel)."""


@dataclass(frozen=True)
class Loudness:
    """An EBU R128 measurement: integrated loudness (LUFS), true peak (dBTP), loudness range (LU)."""

    integrated_lufs: float
    true_peak_db: float
    lra: float = 0.0


@dataclass(frozen=True)
class Track:
    """One indexed music track, as the mix needs it."""

    path: Path
    title: str
    duration_s: float
    lufs: float
    true_peak_db: float
    licence: str = ""


@dataclass(frozen=True)
class MixLevels:
    """The gains :func:`mix_chains` applies, from :func:`measure_mix`: narration to the target,
    music to the bed, and the whole mix (after the duck) to the target. ``mix`` is the mix as
    measured before that last gain."""

    voice_gain_db: float
    music_gain_db: float
    final_gain_db: float
    mix: Loudness


@dataclass
class MusicReport:
    """What one indexing pass did. ``skipped`` counts the files left out, by reason."""

    folder: str
    tracks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the operator."""
        line = (f"{self.tracks} music tracks indexed in {self.folder}: {self.added} new, {self.updated} changed, "
                f"{self.unchanged} unchanged, {self.removed} removed")
        if self.skipped:
            line += "; skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return line + f" ({self.seconds:.1f} s)."


# ---------------------------------------------------------------------------------------------- measuring

_SUMMARY_I = re.compile(r"I:\s+(-?[\d.]+|-?inf|nan) LUFS")
_SUMMARY_LRA = re.compile(r"LRA:\s+(-?[\d.]+|nan) LU\b")
_SUMMARY_TP = re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-?inf|nan) dBFS")


def _number(text: str | None, floor: float) -> float:
    value = float(text) if text else floor
    return floor if math.isnan(value) or value < floor else value


def parse_ebur128(stderr: str) -> Loudness:
    """The Summary block ffmpeg's ``ebur128=peak=true`` prints at the end (silence: -70 LUFS, -inf -> -120 dBTP)."""
    tail = stderr[stderr.rfind("Summary:"):] if "Summary:" in stderr else ""
    i, lra, tp = _SUMMARY_I.search(tail), _SUMMARY_LRA.search(tail), _SUMMARY_TP.search(tail)
    if i is None or tp is None:
        raise ffmpeg.FFmpegError("ffmpeg printed no loudness summary.", stderr)
    return Loudness(_number(i[1], -70.0), _number(tp[1], -120.0), _number(lra[1] if lra else None, 0.0))


def _meter(inputs: list[str], graph: str | None, total_s: float, cancel: threading.Event | None = None,
           timeout_s: float | None = None) -> Loudness:
    """Run ``inputs`` (through ``graph``, whose output is [meter_in]) into the EBU R128 meter; audio only."""
    meter = "ebur128=peak=true:framelog=quiet"
    chain = ["-filter_complex", f"{graph};[meter_in]{meter}[meter_out]", "-map", "[meter_out]"] if graph \
        else ["-map", "0:a:0", "-af", meter]
    limit = timeout_s if timeout_s is not None else ffmpeg.STATS_BASE_S + ffmpeg.STATS_PER_MEDIA_S * 4 * total_s
    # -loglevel info after run()'s own "error": the meter prints its summary at info level (the last one wins).
    stderr = ffmpeg.run(["-loglevel", "info", *inputs, *chain, "-vn", "-f", "null", "-"], total_s=total_s,
                        cancel=cancel, timeout_s=limit)
    return parse_ebur128(stderr)


def measure_loudness(path: Path, *, duration_s: float | None = None, cancel: threading.Event | None = None,
                     timeout_s: float | None = None) -> Loudness:
    """Integrated loudness, true peak and loudness range of a file's first audio stream."""
    return _meter(["-i", str(path)], None, duration_s or 0.0, cancel, timeout_s)


# ---------------------------------------------------------------------------------------------- the index

@dataclass
class _Entry:
    path: Path
    bytes: int
    mtime: float
    licence: str = ""
    title: str = ""
    duration_s: float = 0.0
    loudness: Loudness | None = None


def _read_text(path: Path) -> str | None:
    """A licence file's text, whitespace collapsed and shortened; None when absent or unusable."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_LICENCE_BYTES:
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    text = " ".join(text.split())
    return text[:MAX_LICENCE_CHARS] or None


_FOLDER_NOTES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "LICENCE.txt", "licence.txt", "license.txt",
                 "README", "README.txt", "README.md")


def licence_note(path: Path, folder: Path) -> str:
    """The licence or attribution text for a track: its own sidecar (``<name>.licence.txt``,
    ``<name>.license.txt``, ``<stem>.licence.txt``, ``<name>.txt``, ``<stem>.txt``) first, else the nearest
    folder-level note (LICENSE, licence.txt, README ...) from the track's folder up to ``folder``; '' if none."""
    sidecars = (path.with_name(path.name + ".licence.txt"), path.with_name(path.name + ".license.txt"),
                path.with_suffix(".licence.txt"), path.with_suffix(".license.txt"),
                path.with_name(path.name + ".txt"), path.with_suffix(".txt"))
    for side in sidecars:
        if (text := _read_text(side)) is not None:
            return text
    for parent in [path.parent, *path.parent.parents]:
        for name in _FOLDER_NOTES:
            if (text := _read_text(parent / name)) is not None:
                return text
        if parent == folder or folder not in parent.parents:
            break
    return ""


def _walk(folder: Path, skipped: Counter) -> list[Path]:
    """Audio files under ``folder``, sorted; hidden files, links out of the folder and files past
    :data:`MAX_TRACKS` left out (counted). Linked folders are not followed."""
    found: dict[Path, Path] = {}
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith(".") or path.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            resolved = inside(path, folder)
            if resolved is None:
                skipped["outside the folder (link)"] += 1
                continue
            if resolved in found:
                skipped["duplicate link"] += 1
                continue
            if len(found) >= MAX_TRACKS:
                skipped[f"more than {MAX_TRACKS:,} tracks: the rest of the folder was not read"] += 1
                return sorted(found.values())
            found[resolved] = path
    return sorted(found.values())


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 2**10} kB"


def _stat(path: Path, skipped: Counter) -> _Entry | None:
    try:
        st = path.stat()
    except OSError:
        skipped["unreadable"] += 1
        return None
    if not stat.S_ISREG(st.st_mode):  # a FIFO named .mp3 would block the reader
        skipped["not a regular file"] += 1
    elif st.st_size == 0:
        skipped["empty"] += 1
    elif st.st_size > MAX_TRACK_BYTES:
        skipped[f"over {_size(MAX_TRACK_BYTES)}"] += 1
    else:
        return _Entry(path, st.st_size, st.st_mtime)
    return None


_TITLE = re.compile(r"^ {4}title\s*:\s*(.+)$", re.MULTILINE | re.IGNORECASE)


def _title(path: Path, raw: str) -> str:
    """The file's title tag, else its name with separators as spaces."""
    if m := _TITLE.search(raw or ""):
        return m[1].strip()[:200]
    return " ".join(re.split(r"[_\-.]+", path.stem)).strip()[:200] or path.stem


def _measure(entry: _Entry, skipped: Counter) -> bool:
    """Fill in title, length and loudness; False (counted) when the file cannot be used as a bed."""
    try:
        info = ffmpeg.probe(entry.path, timeout_s=PROBE_TIMEOUT_S)
        if not info.audio_codec:  # a video file named .m4a has streams; a damaged file has none
            skipped["no audio stream" if info.video_codec else "unreadable audio"] += 1
            return False
        if info.duration_s > MAX_TRACK_S:
            skipped[f"longer than {MAX_TRACK_S / 3600:g} hours"] += 1
            return False
        if 0 < info.duration_s < MIN_TRACK_S:  # checked before the costly part (unknown length: measured)
            skipped[f"shorter than {MIN_TRACK_S:g} s"] += 1
            return False
        loudness = measure_loudness(entry.path, duration_s=info.duration_s or MAX_TRACK_S)
    except ffmpeg.FFmpegTimeout:
        skipped["took too long to read"] += 1
        return False
    except (ffmpeg.FFmpegError, OSError):
        skipped["unreadable audio"] += 1
        return False
    if loudness.integrated_lufs <= -69.0:
        skipped["silent"] += 1
        return False
    entry.title, entry.duration_s, entry.loudness = _title(entry.path, info.raw), info.duration_s, loudness
    return True


def _channel_exists(db: Database, channel_id: int) -> None:
    if not db.query_one("SELECT 1 FROM channels WHERE id = ?", [int(channel_id)]):
        raise MusicError(f"There is no channel {channel_id}.")


def music_folder(db: Database, channel_id: int) -> Path | None:
    """The channel's music folder, or None when it has none."""
    row = db.query_one("SELECT path FROM music_folders WHERE channel_id = ?", [int(channel_id)])
    return Path(row[0]) if row else None


def clear_music_folder(db: Database, channel_id: int) -> int:
    """The channel has no music from now on; returns the track rows forgotten (the files are untouched)."""
    with db.write() as cur:
        n = cur.execute("SELECT count(*) FROM music_tracks WHERE channel_id = ?", [int(channel_id)]).fetchall()[0][0]
        cur.execute("DELETE FROM music_tracks WHERE channel_id = ?", [int(channel_id)])
        cur.execute("DELETE FROM music_folders WHERE channel_id = ?", [int(channel_id)])
    return int(n)


def set_music_folder(db: Database, channel_id: int, folder: Path | str | None) -> MusicReport | None:
    """Give the channel ``folder`` as its music folder and index it; ``None`` clears it (returns None)."""
    if folder is None or not str(folder).strip():
        clear_music_folder(db, channel_id)
        return None
    return index_music(db, channel_id, folder)


def index_music(db: Database, channel_id: int, folder: Path | str | None = None) -> MusicReport:
    """Index (or re-index) the channel's music folder, making ``folder`` that folder when given.

    New and changed tracks are probed and measured; unchanged ones (size and mtime) cost a stat,
    though a changed licence note is still picked up; rows of files gone or now unusable are
    deleted, and so are those of the channel's previous folder when the folder changes.
    Raises MusicError for an unknown channel or a folder that is not a readable folder.
    """
    started = time.monotonic()
    _channel_exists(db, channel_id)
    if folder is None:
        folder = music_folder(db, channel_id)
        if folder is None:
            raise MusicError(f"Channel {channel_id} has no music folder: choose one first.")
    if len(str(folder)) > 1000:
        raise MusicError("Give the folder's path (at most 1,000 characters).")
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MusicError(f"{folder} is not a folder this workbench can read: give the path of a folder of "
                         "music files (mp3, wav, flac, ogg, opus, m4a) on this machine.")
    folder = folder.resolve()
    report = MusicReport(str(folder))
    paths = _walk(folder, report.skipped)
    known = {row[0]: row[1:] for row in db.query(
        "SELECT path, bytes, mtime, licence FROM music_tracks WHERE channel_id = ? AND folder = ?",
        [int(channel_id), str(folder)])}

    keep, todo, relicensed = set(), [], []
    for path in paths:
        entry = _stat(path, report.skipped)
        if entry is None:
            continue
        entry.licence = licence_note(path, folder)
        old = known.get(str(path))
        if old is not None and old[0] == entry.bytes and old[1] == entry.mtime:
            report.unchanged += 1
            if old[2] != entry.licence:
                relicensed.append(entry)
        elif _measure(entry, report.skipped):
            todo.append(entry)
        else:
            continue
        keep.add(str(path))

    with db.write() as cur:
        had = cur.execute("SELECT path FROM music_folders WHERE channel_id = ?", [int(channel_id)]).fetchall()
        if not had:
            cur.execute("INSERT INTO music_folders (channel_id, path) VALUES (?, ?)", [int(channel_id), str(folder)])
        elif had[0][0] != str(folder):  # a channel has one folder: this one replaces it
            cur.execute("UPDATE music_folders SET path = ?, added_at = current_timestamp WHERE channel_id = ?",
                        [str(folder), int(channel_id)])
        cur.execute("DELETE FROM music_tracks WHERE channel_id = ? AND folder <> ?", [int(channel_id), str(folder)])
        gone = [p for p in known if p not in keep]
        for path in gone:
            cur.execute("DELETE FROM music_tracks WHERE channel_id = ? AND path = ?", [int(channel_id), path])
        for entry in relicensed:
            cur.execute("UPDATE music_tracks SET licence = ? WHERE channel_id = ? AND path = ?",
                        [entry.licence, int(channel_id), str(entry.path)])
        for entry in todo:
            values = [entry.title, entry.duration_s, entry.loudness.integrated_lufs, entry.loudness.true_peak_db,
                      entry.bytes, entry.mtime, entry.licence]
            if str(entry.path) in known:  # a changed file keeps its row
                cur.execute("UPDATE music_tracks SET title = ?, duration_s = ?, lufs = ?, true_peak_db = ?, bytes = ?,"
                            " mtime = ?, licence = ?, indexed_at = current_timestamp WHERE channel_id = ? AND path = ?",
                            [*values, int(channel_id), str(entry.path)])
                report.updated += 1
            else:
                cur.execute("INSERT INTO music_tracks (channel_id, folder, path, title, duration_s, lufs, true_peak_db,"
                            " bytes, mtime, licence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                            " ON CONFLICT (channel_id, path) DO NOTHING",  # a second pass running at once added it
                            [int(channel_id), str(folder), str(entry.path), *values])
                report.added += 1
    report.removed = len(gone)
    report.tracks = len(keep)
    report.seconds = round(time.monotonic() - started, 2)
    return report


def tracks(db: Database, channel_id: int) -> list[dict]:
    """The channel's indexed tracks (rows of ``music_tracks``), by path."""
    return db.query_dicts("SELECT * FROM music_tracks WHERE channel_id = ? ORDER BY path", [int(channel_id)])


def _track(row: dict) -> Track:
    return Track(Path(row["path"]), row["title"], float(row["duration_s"]), float(row["lufs"]),
                 float(row["true_peak_db"]), row["licence"] or "")


# ---------------------------------------------------------------------------------------------- the choice

def _rank(seed: object, path: str) -> str:
    """A stable per-seed shuffle key (Python's hash() is salted per process)."""
    return hashlib.sha256(f"{seed}\x00{path}".encode()).hexdigest()


def choose_track(db: Database, channel_id: int, needed_s: float, seed: int | str) -> Track | None:
    """The track for a video of ``needed_s`` seconds, or None when the channel has no folder or no tracks.

    Tracks heard in the channel's last :data:`RECENT_VIDEOS` videos are left out; of the rest, those
    that loop fewest times (ideally not at all: at least ``needed_s`` long) are preferred, and one of
    them is picked by ``seed`` (the job id), so a job always gets the same track. The seed job's own
    video row is not counted as recent: a re-render keeps its track. When every track was used
    recently, the least recently used one. Files deleted since indexing are skipped.
    """
    if music_folder(db, channel_id) is None:
        return None
    rows = [r for r in tracks(db, channel_id) if Path(r["path"]).is_file()]
    if not rows:
        return None
    own = int(seed) if isinstance(seed, int) or (isinstance(seed, str) and seed.isdigit()) else -1
    history = db.query("SELECT music_path FROM videos WHERE channel_id = ? AND job_id <> ? AND music_path IS NOT NULL"
                       " ORDER BY created_at DESC, job_id DESC", [int(channel_id), own])
    order = [p for (p,) in history]
    recent = set(order[:RECENT_VIDEOS])
    fresh = [r for r in rows if r["path"] not in recent]
    if fresh:
        loops = {r["path"]: math.ceil(max(needed_s, 0.0) / r["duration_s"]) if needed_s > 0 else 1 for r in fresh}
        fewest = min(loops.values())
        best = min((r for r in fresh if loops[r["path"]] == fewest), key=lambda r: _rank(seed, r["path"]))
        return _track(best)
    last_use = {}  # path -> position in the history, 0 the newest; the largest is the least recently used
    for i, path in enumerate(order):
        last_use.setdefault(path, i)
    return _track(max(rows, key=lambda r: (last_use.get(r["path"], len(order)), _rank(seed, r["path"]))))


# ---------------------------------------------------------------------------------------------- the mix

def music_input_args(track: Track) -> list[str]:
    """The ffmpeg input options for the track: looped without end (the graph trims it to the video)."""
    return ["-stream_loop", "-1", "-i", str(Path(track.path).resolve())]


def _label(name: str) -> str:
    return name if name.startswith("[") else f"[{name}]"


def _db(value: float) -> str:
    return f"{value:.3f}dB"


def _voice_chain(narration: str, duration_s: float, gain_db: float) -> str:
    """The narration at 48 kHz stereo, gain-staged, padded or cut to exactly the video's length."""
    return (f"{_label(narration)}aresample={RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"volume={_db(gain_db)},apad=whole_dur={duration_s:.3f},atrim=duration={duration_s:.3f}")


def _bed_chain(music_input: int, duration_s: float, gain_db: float) -> str:
    """The (looped) track cut to the video, gain-staged to the bed level, faded in and out."""
    fade_in, fade_out = min(FADE_IN_S, duration_s / 4), min(FADE_OUT_S, duration_s / 3)
    return (f"[{music_input}:a]aresample={RATE},aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"atrim=duration={duration_s:.3f},asetpts=N/SR/TB,volume={_db(gain_db)},"
            f"afade=t=in:st=0:d={fade_in:.3f},afade=t=out:st={duration_s - fade_out:.3f}:d={fade_out:.3f}")


def _finish(final_gain_db: float, out: str) -> str:
    """The mix to the target loudness (one linear gain), held under the true-peak ceiling, at 48 kHz."""
    ceiling = 10 ** (CEILING_DBTP / 20)
    return (f"volume={_db(final_gain_db)},aresample={RATE * 4},"
            f"alimiter=limit={ceiling:.5f}:attack={LIMITER['attack']:g}:release={LIMITER['release']:g}"
            f":level=0:latency=1,aresample={RATE}{_label(out)}")


def _duck() -> str:
    return ("sidechaincompress=" + ":".join(f"{k}={v:g}" for k, v in DUCK.items()) + ":detection=rms:link=maximum")


def mix_chains(narration: str, music_input: int | None, duration_s: float, track: Track | None,
               levels: MixLevels | None, *, out: str = "aout", solo: str | None = None) -> list[str]:
    """Filter-graph chains from the narration (a stream or label such as ``"3:a"``) and, with a track,
    the music input (index ``music_input``, opened with :func:`music_input_args`) to ``[out]``.

    ``levels`` comes from :func:`measure_mix` over the same narration, track and length; without it
    the narration alone goes through single-pass ``loudnorm`` as before (no music: it needs the gains).
    ``solo`` is for checking the duck: ``"music"`` mutes the narration in the sum (it still keys the
    duck), ``"voice"`` mutes the music; every gain stays as measured for the full mix.
    """
    if duration_s <= 0:
        raise ValueError("The video has no length to mix music under.")
    if levels is None:
        chain = f"{_label(narration)}loudnorm=I={TARGET_LUFS:g}:TP={CEILING_DBTP:g}:LRA=11,aresample={RATE}"
        return [chain + _label(out)]
    return _chains(narration, music_input if track is not None else None, duration_s, levels, out, solo, True)


def _chains(narration: str, music_input: int | None, duration_s: float, levels: MixLevels, out: str,
            solo: str | None, finish: bool) -> list[str]:
    """The mix; ``finish`` False leaves out the final gain and limiter (what :func:`measure_mix` meters)."""
    end = f",{_finish(levels.final_gain_db, out)}" if finish else _label(out)
    if music_input is None:
        return [_voice_chain(narration, duration_s, levels.voice_gain_db) + end]
    weights = {"music": "0 1", "voice": "1 0"}.get(solo or "", "1 1")
    return [
        f"{_voice_chain(narration, duration_s, levels.voice_gain_db)},asplit=2[mus_voice][mus_key]",
        f"{_bed_chain(music_input, duration_s, levels.music_gain_db)}[mus_bed]",
        f"[mus_bed][mus_key]{_duck()}[mus_ducked]",
        f"[mus_voice][mus_ducked]amix=inputs=2:duration=first:normalize=0:weights='{weights}'{end}",
    ]


def measure_mix(narration: Path, track: Track | None, duration_s: float, *,
                cancel: threading.Event | None = None) -> MixLevels:
    """The gains for :func:`mix_chains`, from fast audio-only passes the render runs first.

    Pass 1 meters the narration (its gain to :data:`TARGET_LUFS`; the bed sits
    :data:`BED_BELOW_VOICE_LU` under it). With a track, pass 2 meters the ducked mix before the
    final gain. When the gain would push true peaks over the ceiling, the limiter shaves them
    and takes a little loudness with them: pass 3 meters the finished mix and corrects the gain.
    """
    narration = Path(narration).resolve()
    # Metered as the mix will hear it: at 48 kHz stereo (a mono voice is upmixed at -3 dB a channel).
    voice = _meter(["-i", str(narration)], _voice_chain("0:a", duration_s, 0.0) + "[meter_in]", duration_s, cancel)
    if voice.integrated_lufs <= -69.0:
        raise ValueError(f"The narration {narration.name} is silent: there is nothing to mix music under.")
    voice_gain = TARGET_LUFS - voice.integrated_lufs
    music_gain = 0.0
    inputs = ["-i", str(narration)]
    if track is None:
        mix = Loudness(TARGET_LUFS, voice.true_peak_db + voice_gain, voice.lra)
        levels = MixLevels(voice_gain, 0.0, 0.0, mix)
    else:
        music_gain = TARGET_LUFS - BED_BELOW_VOICE_LU - track.lufs
        inputs += music_input_args(track)
        draft = MixLevels(voice_gain, music_gain, 0.0, Loudness(TARGET_LUFS, 0.0))
        graph = ";".join(_chains("0:a", 1, duration_s, draft, "meter_in", None, finish=False))
        mix = _meter(inputs, graph, duration_s, cancel)
        levels = MixLevels(voice_gain, music_gain, TARGET_LUFS - mix.integrated_lufs, mix)
    # Each correction raises the gain, so the limiter shaves a little more: a few rounds settle it.
    for _ in range(LIMITER_ROUNDS if mix.true_peak_db + levels.final_gain_db > CEILING_DBTP else 0):
        done = _meter(inputs, ";".join(mix_chains("0:a", 1 if track else None, duration_s, track, levels,
                                                  out="meter_in")), duration_s, cancel)
        if abs(TARGET_LUFS - done.integrated_lufs) <= SETTLED_LU:
            break
        levels = MixLevels(voice_gain, music_gain, levels.final_gain_db + TARGET_LUFS - done.integrated_lufs, mix)
    return levels


def mix_audio(narration_wav: Path, track: Track | None, duration_s: float, out: Path, *,
              levels: MixLevels | None = None, solo: str | None = None,
              cancel: threading.Event | None = None) -> Path:
    """Render only the sound of a video (narration, and the track ducked under it) to ``out`` (a .wav
    or .flac, say), with the same chains the render uses; for tests, benches and previews."""
    narration_wav = Path(narration_wav).resolve()
    if levels is None:
        levels = measure_mix(narration_wav, track, duration_s, cancel=cancel)
    inputs = ["-i", str(narration_wav), *(music_input_args(track) if track else [])]
    graph = ";".join(mix_chains("0:a", 1 if track else None, duration_s, track, levels, solo=solo))
    ffmpeg.run([*inputs, "-filter_complex", graph, "-map", "[aout]", "-t", f"{duration_s:.3f}", str(out)],
               total_s=duration_s, cancel=cancel)
    return out


@dataclass(frozen=True)
class Sound:
    """The sound of one render: the narration's gains and, with a track, the music under it.

    The render adds :meth:`inputs` right after the narration's ``-i`` and takes :meth:`chains` for
    ``[aout]``; ``Sound(None, None, d)`` is the narration alone through single-pass loudnorm."""

    track: Track | None
    levels: MixLevels | None
    duration_s: float

    def inputs(self) -> list[str]:
        return music_input_args(self.track) if self.track is not None else []

    def chains(self, narration_input: int, out: str = "aout") -> list[str]:
        music = narration_input + 1 if self.track is not None else None
        return mix_chains(f"{narration_input}:a", music, self.duration_s, self.track, self.levels, out=out)


def plan_sound(narration: Path, track: Track | None, duration_s: float, *,
               cancel: threading.Event | None = None) -> Sound:
    """Measure the narration (and the mix, with a track) for a render of ``duration_s`` seconds."""
    return Sound(track, measure_mix(narration, track, duration_s, cancel=cancel), duration_s)
