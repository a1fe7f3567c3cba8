"""Background music: indexing a channel's folder, choosing a track per video, and the ducked mix's sound.

Every signal is synthesised here (numpy, written as WAV and encoded by the bundled ffmpeg): a
"narration" of voiced syllables in words with pauses between sentences, and a loud looping
"music" track of chords, a kick and hats. The mix is measured with ffmpeg's loudnorm meter (not
the ebur128 parse the code uses) and by RMS over known speech and pause windows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.media import music
from pipeline.media.ffmpeg import ffmpeg_exe, probe
from pipeline.media.music import (
    MusicError,
    Track,
    choose_track,
    clear_music_folder,
    index_music,
    licence_note,
    measure_mix,
    mix_audio,
    mix_chains,
    music_folder,
    parse_ebur128,
    set_music_folder,
    tracks,
)

SPEECH = [(0.5, 6.0), (9.0, 15.0), (18.0, 22.5)]  # where the narration speaks; pauses between
PAUSES = [(6.0, 9.0), (15.0, 18.0)]
NARRATION_S = 24.0
TRACK_S = 14.0  # shorter than the narration: the mix must loop it
RATE = 48_000


# ---------------------------------------------------------------------------------------------- signals

def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 1:
        samples = samples[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def narration_signal(rate: int = 22050, clicks: bool = False, seed: int = 7) -> np.ndarray:
    """Speech-like mono: a 120 Hz voice with harmonics and breath noise, shaped into syllables of
    0.14-0.24 s grouped in words with short gaps, only inside SPEECH (about -24 LUFS, like raw TTS).
    ``clicks`` adds five full-scale plosive-like spikes, so the loudness gain alone would clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(NARRATION_S * rate)) / rate
    phase = 2 * np.pi * np.cumsum(120 + 15 * np.sin(2 * np.pi * 0.7 * t)) / rate
    source = sum(np.sin(k * phase) / k for k in range(1, 28)) + 0.15 * rng.standard_normal(t.size)
    env = np.zeros_like(t)
    for start, end in SPEECH:
        pos = start
        while pos < end - 0.1:
            for _ in range(rng.integers(2, 5)):
                length = rng.uniform(0.14, 0.24)
                if pos + length > end:
                    break
                i, j = int(pos * rate), int((pos + length) * rate)
                env[i:j] = np.hanning(j - i) ** 0.5 * rng.uniform(0.6, 1.0)
                pos += length
            pos += rng.uniform(0.08, 0.18)
    sig = source * env
    sig *= 0.3 / np.max(np.abs(sig))
    if clicks:
        for at in (1.0, 3.3, 9.5, 12.2, 19.0):
            i = int(at * rate)
            sig[i:i + 40] = np.hanning(40) * 0.99
    return sig


def music_signal(seconds: float = TRACK_S, rate: int = 44100, peak: float = 0.95) -> np.ndarray:
    """Loud music-like stereo (about -12 LUFS): a chord every two seconds, a kick every half, hats between."""
    t = np.arange(int(seconds * rate)) / rate
    chords = [(220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (196.0, 246.94, 329.63)]
    left, right = np.zeros_like(t), np.zeros_like(t)
    for n in range(int(np.ceil(seconds / 2))):
        i, j = int(n * 2 * rate), min(int((n + 1) * 2 * rate), t.size)
        tt = t[i:j] - t[i]
        pad = sum(np.sin(2 * np.pi * f * tt) + 0.3 * np.sin(4 * np.pi * f * tt) for f in chords[n % 4])
        left[i:j] += pad
        right[i:j] += 0.9 * pad
    beat = t % 0.5
    kick = 3 * np.sin(2 * np.pi * 55 * beat) * np.exp(-18 * beat)
    hats = np.random.default_rng(3).standard_normal(t.size) * np.exp(-60 * ((t + 0.25) % 0.5)) * 0.8
    stereo = np.stack([left + kick + hats, right + kick + 0.7 * hats], axis=1)
    return stereo * (peak / np.max(np.abs(stereo)))


def encode(src: Path, out: Path, *extra: str) -> Path:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), *extra, str(out)], check=True)
    return out


def loudnorm_meter(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) by loudnorm's first-pass JSON: a second meter, independent of the
    ebur128 summary the code parses."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path),
                           "-af", "loudnorm=print_format=json", "-f", "null", "-"], capture_output=True, text=True,
                          check=True)
    data = json.loads(proc.stderr[proc.stderr.rindex("{"):proc.stderr.rindex("}") + 1])
    return float(data["input_i"]), float(data["input_tp"])


def pcm(path: Path) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<f4")


def rms_db(x: np.ndarray, start: float, end: float) -> float:
    seg = x[int(start * RATE):int(end * RATE)]
    return float(20 * np.log10(np.sqrt(np.mean(seg.astype(np.float64) ** 2)) + 1e-12))


@pytest.fixture(scope="module")
def sounds(tmp_path_factory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("sounds")
    music_wav = write_wav(d / "music.wav", music_signal(), 44100)
    return SimpleNamespace(
        narration=write_wav(d / "narration.wav", narration_signal(), 22050),
        clicky=write_wav(d / "clicky.wav", narration_signal(clicks=True), 22050),
        music_wav=music_wav,
        quiet_wav=write_wav(d / "quiet.wav", music_signal(seconds=8.0, peak=0.1), 44100),
        tiny_wav=write_wav(d / "tiny.wav", music_signal(seconds=1.0), 44100),
    )


def channel(db, name: str = "Octopus facts") -> int:
    with db.write() as cur:
        return cur.execute("INSERT INTO channels (name) VALUES (?) RETURNING id", [name]).fetchall()[0][0]


def video(db, job_id: int, channel_id: int, music_path: str | None, day: int) -> None:
    with db.write() as cur:
        cur.execute("INSERT INTO videos (job_id, channel_id, title, description, tags, format, music_path,"
                    " music_licence, created_at) VALUES (?, ?, 't', 'd', [], 'landscape', ?, '', ?)",
                    [job_id, channel_id, music_path, f"2026-01-{day:02d} 12:00:00"])


# ---------------------------------------------------------------------------------------------- the index

@pytest.fixture
def folder(tmp_path: Path, sounds) -> Path:
    lib = tmp_path / "music"
    (lib / "chill").mkdir(parents=True)
    encode(sounds.music_wav, lib / "Bright_Morning.mp3", "-b:a", "128k", "-metadata", "title=Bright Morning")
    (lib / "Bright_Morning.mp3.licence.txt").write_text("  'Bright Morning' by A. Composer\n CC BY 4.0  ")
    encode(sounds.quiet_wav, lib / "chill" / "quiet-pad.flac")
    (lib / "LICENSE.txt").write_text("All tracks: Pixabay Content License")
    (lib / "broken.ogg").write_bytes(b"OggS but not really" * 50)
    encode(sounds.tiny_wav, lib / "blip.wav")
    (lib / "notes.pdf").write_bytes(b"%PDF-1.4 not music")
    (lib / ".hidden.mp3").write_bytes(b"x")
    return lib


def by_name(db, channel_id: int) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in tracks(db, channel_id)}


def test_index_measures_tracks_and_reads_licences(db, folder: Path):
    cid = channel(db)
    report = index_music(db, cid, folder)
    assert (report.tracks, report.added) == (2, 2)
    assert report.skipped == {"unreadable audio": 1, "shorter than 5 s": 1}  # the pdf and hidden file: not music
    assert "2 music tracks indexed" in report.summary() and "1 unreadable audio" in report.summary()
    assert music_folder(db, cid) == folder.resolve()

    rows = by_name(db, cid)
    bright, quiet = rows["Bright_Morning.mp3"], rows["quiet-pad.flac"]
    assert bright["title"] == "Bright Morning" and quiet["title"] == "quiet pad"
    assert bright["duration_s"] == pytest.approx(TRACK_S, abs=0.1)  # mp3 padding: a few ms
    assert quiet["duration_s"] == pytest.approx(8.0, abs=0.05)
    for row, path in ((bright, folder / "Bright_Morning.mp3"), (quiet, folder / "chill" / "quiet-pad.flac")):
        lufs, tp = loudnorm_meter(path)
        assert row["lufs"] == pytest.approx(lufs, abs=0.3)
        assert row["true_peak_db"] == pytest.approx(tp, abs=0.3)
        assert row["bytes"] == path.stat().st_size and row["mtime"] == path.stat().st_mtime
    assert bright["lufs"] > -14 and quiet["lufs"] < bright["lufs"] - 15  # a loud track and a soft one
    assert bright["licence"] == "'Bright Morning' by A. Composer CC BY 4.0"  # its own sidecar wins
    assert quiet["licence"] == "All tracks: Pixabay Content License"  # the folder's note, from a sub-folder


def test_reindex_is_incremental(db, folder: Path, sounds, monkeypatch):
    cid = channel(db)
    index_music(db, cid, folder)
    before = by_name(db, cid)

    measured = []
    real = music.measure_loudness
    monkeypatch.setattr(music, "measure_loudness", lambda *a, **k: measured.append(a[0]) or real(*a, **k))
    (folder / "Bright_Morning.mp3.licence.txt").write_text("CC0")  # a licence edit alone: no re-measuring
    again = index_music(db, cid)  # the channel's folder, as recorded
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 2, 0)
    assert measured == [] and by_name(db, cid)["Bright_Morning.mp3"]["licence"] == "CC0"

    encode(sounds.music_wav, folder / "chill" / "quiet-pad.flac", "-af", "volume=-6dB")  # replaced: louder now
    os.utime(folder / "chill" / "quiet-pad.flac", (1, 1))  # a different mtime, whatever the clock's resolution
    (folder / "Bright_Morning.mp3").unlink()
    third = index_music(db, cid, folder)
    assert (third.added, third.updated, third.unchanged, third.removed) == (0, 1, 0, 1)
    assert [p.name for p in measured] == ["quiet-pad.flac"]
    rows = by_name(db, cid)
    assert list(rows) == ["quiet-pad.flac"]
    assert rows["quiet-pad.flac"]["id"] == before["quiet-pad.flac"]["id"]  # a changed file keeps its row
    assert rows["quiet-pad.flac"]["lufs"] > before["quiet-pad.flac"]["lufs"] + 10
    assert rows["quiet-pad.flac"]["duration_s"] == pytest.approx(TRACK_S, abs=0.05)


def test_folder_per_channel_switch_and_clear(db, folder: Path, tmp_path: Path, sounds):
    a, b = channel(db, "A"), channel(db, "B")
    set_music_folder(db, a, folder)
    set_music_folder(db, b, folder)  # two channels may share a folder: rows of their own
    assert len(tracks(db, a)) == len(tracks(db, b)) == 2

    other = tmp_path / "other"
    other.mkdir()
    encode(sounds.quiet_wav, other / "solo.ogg", "-c:a", "libvorbis")
    report = set_music_folder(db, a, other)  # zero or one folder: the old folder's tracks go
    assert report.tracks == 1 and music_folder(db, a) == other.resolve()
    assert [Path(r["path"]).name for r in tracks(db, a)] == ["solo.ogg"]
    assert len(tracks(db, b)) == 2

    assert set_music_folder(db, a, None) is None
    assert music_folder(db, a) is None and tracks(db, a) == []
    assert clear_music_folder(db, b) == 2 and music_folder(db, b) is None


def test_index_refuses_bad_input_and_keeps_to_limits(db, folder: Path, monkeypatch):
    cid = channel(db)
    with pytest.raises(MusicError, match="no channel"):
        index_music(db, 999, folder)
    with pytest.raises(MusicError, match="not a folder"):
        index_music(db, cid, folder / "notes.pdf")
    with pytest.raises(MusicError, match="no music folder"):
        index_music(db, cid)

    assert index_music(db, cid, folder).tracks == 2
    monkeypatch.setattr(music, "MAX_TRACK_BYTES", 250 * 1024)  # the mp3 is ~220 kB, the flac ~300 kB
    report = index_music(db, cid, folder)
    assert report.skipped["over 250 kB"] == 1 and (report.tracks, report.removed) == (1, 1)
    monkeypatch.setattr(music, "MAX_TRACKS", 1)
    report = index_music(db, cid, folder)
    assert report.skipped["more than 1 tracks: the rest of the folder was not read"] == 1
    assert [Path(r["path"]).name for r in tracks(db, cid)] == ["Bright_Morning.mp3"]


def test_licence_note_lookup_order(tmp_path: Path):
    root = tmp_path / "m"
    (root / "a" / "b").mkdir(parents=True)
    track = root / "a" / "b" / "song.mp3"
    track.write_bytes(b"")
    assert licence_note(track, root) == ""
    (root / "README.md").write_text("Music from the operator's own studio.")
    assert licence_note(track, root) == "Music from the operator's own studio."
    (root / "a" / "licence.txt").write_text("Folder a: CC BY-SA 4.0")
    assert licence_note(track, root) == "Folder a: CC BY-SA 4.0"  # the nearest folder note
    (root / "a" / "b" / "song.txt").write_text("song by X")
    assert licence_note(track, root) == "song by X"
    (root / "a" / "b" / "song.mp3.licence.txt").write_text("song: CC0")
    assert licence_note(track, root) == "song: CC0"
    (tmp_path / "LICENSE").write_text("outside the music folder: never read")
    (root / "README.md").unlink()
    (root / "a" / "licence.txt").unlink()
    (root / "a" / "b" / "song.txt").unlink()
    (root / "a" / "b" / "song.mp3.licence.txt").unlink()
    assert licence_note(track, root) == ""


def test_parse_ebur128_summary():
    text = ("[Parsed_ebur128_0 @ 0x1] Summary:\n\n  Integrated loudness:\n    I:         -14.2 LUFS\n"
            "    Threshold: -24.5 LUFS\n\n  Loudness range:\n    LRA:         6.1 LU\n\n  True peak:\n"
            "    Peak:       -1.3 dBFS\n")
    assert parse_ebur128(text) == music.Loudness(-14.2, -1.3, 6.1)
    silent = text.replace("-14.2", "-70.0").replace("-1.3 dBFS", "-inf dBFS")
    assert parse_ebur128(silent) == music.Loudness(-70.0, -120.0, 6.1)


# ---------------------------------------------------------------------------------------------- the choice

def fake_tracks(db, channel_id: int, tmp_path: Path, lengths: dict[str, float]) -> dict[str, str]:
    """Rows for tracks without measuring them (the choice reads rows only; the files must exist)."""
    lib = tmp_path / f"lib{channel_id}"
    lib.mkdir()
    paths = {}
    with db.write() as cur:
        cur.execute("INSERT INTO music_folders (channel_id, path) VALUES (?, ?)", [channel_id, str(lib)])
        for name, seconds in lengths.items():
            (lib / f"{name}.mp3").write_bytes(b"x")
            paths[name] = str(lib / f"{name}.mp3")
            cur.execute("INSERT INTO music_tracks (channel_id, folder, path, title, duration_s, lufs, true_peak_db,"
                        " bytes, mtime, licence) VALUES (?, ?, ?, ?, ?, -12, -1, 1, 0, ?)",
                        [channel_id, str(lib), paths[name], name, seconds, f"licence of {name}"])
    return paths


def test_choice_skips_the_last_five_videos_and_is_deterministic(db, tmp_path: Path):
    cid, other = channel(db, "A"), channel(db, "B")
    paths = fake_tracks(db, cid, tmp_path, {f"t{i}": 120.0 for i in range(1, 8)})
    for day, name in enumerate(["t6", "t1", "t2", "t3", "t4", "t5"], start=1):  # t6 is six videos back: free again
        video(db, day, cid, paths[name], day)
    video(db, 50, other, paths["t7"], 28)  # another channel's video does not count
    video(db, 51, cid, None, 29)  # nor does a video without music

    picks = {seed: choose_track(db, cid, 60.0, seed) for seed in range(1000, 1040)}  # no video of these jobs
    assert {t.title for t in picks.values()} == {"t6", "t7"}  # both, depending on the seed
    assert all(choose_track(db, cid, 60.0, seed) == t for seed, t in picks.items())  # same seed, same track
    pick = picks[1000]
    assert isinstance(pick, Track) and pick.licence == f"licence of {pick.title}" and pick.duration_s == 120.0

    video(db, 200, cid, paths["t6"], 30)  # a newer video with t6: t1 is six back now, free again
    assert {choose_track(db, cid, 60.0, seed).title for seed in range(1000, 1040)} == {"t1", "t7"}
    # but the job's own earlier render does not count against it: a re-render of job 200 may keep t6
    assert choose_track(db, cid, 60.0, 200).title in {"t6", "t7"}
    assert choose_track(db, cid, 60.0, "200") == choose_track(db, cid, 60.0, 200)


def test_choice_prefers_tracks_that_loop_least(db, tmp_path: Path):
    cid = channel(db)
    fake_tracks(db, cid, tmp_path, {"short": 30.0, "medium": 50.0, "long": 95.0, "longer": 400.0})
    assert {choose_track(db, cid, 90.0, seed).title for seed in range(1000, 1030)} == {"long", "longer"}
    assert {choose_track(db, cid, 500.0, seed).title for seed in range(30)} == {"longer"}  # two loops beat 10+
    assert {choose_track(db, cid, 40.0, seed).title for seed in range(40)} == {"medium", "long", "longer"}


def test_choice_least_recently_used_when_all_were_used(db, tmp_path: Path):
    cid = channel(db)
    paths = fake_tracks(db, cid, tmp_path, {"a": 100.0, "b": 100.0, "c": 100.0})
    for day, name in enumerate(["c", "a", "b", "c", "a", "b"], start=1):  # newest last: b, a, c, ...
        video(db, day, cid, paths[name], day)
    assert {choose_track(db, cid, 60.0, seed).title for seed in range(1000, 1020)} == {"c"}
    Path(paths["c"]).unlink()  # deleted since indexing: not offered
    assert {choose_track(db, cid, 60.0, seed).title for seed in range(1000, 1020)} == {"a"}


def test_no_choice_without_a_folder_or_tracks(db, tmp_path: Path):
    cid = channel(db)
    assert choose_track(db, cid, 60.0, 1) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    set_music_folder(db, cid, empty)
    assert choose_track(db, cid, 60.0, 1) is None


# ---------------------------------------------------------------------------------------------- the mix

def test_chains_are_one_graph_ending_in_aout():
    track = Track(Path("/m/x.mp3"), "x", 100.0, -10.0, -0.5)
    levels = music.MixLevels(10.0, -16.0, -0.2, music.Loudness(-13.8, -2.0))
    chains = mix_chains("3:a", 4, 60.0, track, levels)
    graph = ";".join(chains)
    assert chains[0].startswith("[3:a]") and "[4:a]" in chains[1] and graph.endswith("[aout]")
    assert "asplit=2[mus_voice][mus_key]" in graph and "[mus_bed][mus_key]sidechaincompress=" in graph
    assert "amix=inputs=2:duration=first:normalize=0" in graph
    assert "afade=t=in:st=0:d=1.500" in graph and "afade=t=out:st=57.000:d=3.000" in graph
    assert music.music_input_args(track)[:2] == ["-stream_loop", "-1"]
    voice_only = mix_chains("[narr]", None, 60.0, None, levels)
    assert len(voice_only) == 1 and "sidechaincompress" not in voice_only[0] and voice_only[0].startswith("[narr]")
    assert "loudnorm" in mix_chains("1:a", None, 60.0, None, None)[0]  # unmeasured: the old single pass
    with pytest.raises(ValueError):
        mix_chains("1:a", 2, 0.0, track, levels)


@pytest.fixture(scope="module")
def mixed(sounds, tmp_path_factory) -> SimpleNamespace:
    """One measured mix of the narration over the (looped) track, and the same graph with either part muted."""
    d = tmp_path_factory.mktemp("mixed")
    track_path = encode(sounds.music_wav, d / "track.flac")
    lufs, tp = loudnorm_meter(track_path)
    track = Track(track_path, "track", TRACK_S, lufs, tp)
    levels = measure_mix(sounds.narration, track, NARRATION_S)
    out = {}
    for solo in (None, "music", "voice"):
        out[solo] = mix_audio(sounds.narration, track, NARRATION_S, d / f"mix-{solo}.wav", levels=levels, solo=solo)
    return SimpleNamespace(levels=levels, full=out[None], music=pcm(out["music"]), voice=pcm(out["voice"]))


def test_mix_meets_the_loudness_targets(mixed):
    lufs, tp = loudnorm_meter(mixed.full)
    assert lufs == pytest.approx(-14.0, abs=1.0)
    assert tp <= -1.0
    assert probe(mixed.full).duration_s == pytest.approx(NARRATION_S, abs=0.05)  # the 14 s track looped


def test_narration_stands_over_the_ducked_music(mixed):
    for start, end in SPEECH:
        voice, bed = rms_db(mixed.voice, start + 0.3, end), rms_db(mixed.music, start + 0.3, end)
        assert voice - bed >= 12.0, (start, voice, bed)


def test_music_comes_back_in_the_pauses(mixed):
    under = np.mean([rms_db(mixed.music, s + 0.3, e) for s, e in SPEECH])
    for start, end in PAUSES:
        assert rms_db(mixed.music, start + 1.0, end) >= under + 6.0
    # and it sits still under the voice: one-beat windows vary by little more than the music itself does
    spread = np.std([rms_db(mixed.music, x, x + 0.5) for s, e in SPEECH for x in np.arange(s + 0.5, e - 0.5, 0.5)])
    assert spread < 2.0


def test_narration_only_meets_the_targets_even_with_peaks(sounds, tmp_path: Path):
    levels = measure_mix(sounds.clicky, None, NARRATION_S)
    assert levels.mix.true_peak_db > 0  # the gain alone would clip: the limiter must hold the peaks
    out = mix_audio(sounds.clicky, None, NARRATION_S, tmp_path / "voice.wav", levels=levels)
    lufs, tp = loudnorm_meter(out)
    assert lufs == pytest.approx(-14.0, abs=1.0)
    assert tp <= -1.0


def test_loud_narration_over_music_meets_the_targets(sounds, tmp_path: Path):
    track = Track(sounds.music_wav, "m", TRACK_S, *loudnorm_meter(sounds.music_wav))
    out = mix_audio(sounds.clicky, track, 20.0, tmp_path / "mix.flac")  # measured inside; shorter than the voice
    lufs, tp = loudnorm_meter(out)
    assert lufs == pytest.approx(-14.0, abs=1.0) and tp <= -1.0


# ---------------------------------------------------------------------------------------------- the CLI

def test_cli_sets_lists_and_clears(db, folder: Path, capsys):
    from pipeline import cli_music

    cid = channel(db, "Octopus facts")
    parser = argparse.ArgumentParser()
    cli_music.add_parser(parser.add_subparsers(dest="command"), argparse.ArgumentParser(add_help=False))
    closed = []
    wb = lambda args: SimpleNamespace(db=db, close=lambda: closed.append(1))

    assert cli_music.run(parser.parse_args(["music", "set", "octopus facts", str(folder)]), wb) == 0
    assert "2 music tracks indexed" in capsys.readouterr().out
    assert cli_music.run(parser.parse_args(["music", "list", str(cid), "--json"]), wb) == 0
    assert {Path(r["path"]).name for r in json.loads(capsys.readouterr().out)} == {"Bright_Morning.mp3",
                                                                                   "quiet-pad.flac"}
    assert cli_music.run(parser.parse_args(["music", "reindex"]), wb) == 0
    assert "2 unchanged" in capsys.readouterr().out
    assert cli_music.run(parser.parse_args(["music", "clear", "Octopus facts"]), wb) == 0
    assert "2 tracks forgotten" in capsys.readouterr().out and music_folder(db, cid) is None
    with pytest.raises(cli_music.ERRORS):
        cli_music.run(parser.parse_args(["music", "list", "nobody"]), wb)
    assert len(closed) == 5
