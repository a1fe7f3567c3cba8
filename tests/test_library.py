"""The operator's media library: indexing real files, re-indexing incrementally, searching by meaning."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pipeline.media.ffmpeg import FFmpegTimeout, ffmpeg_exe, probe
from pipeline.media.library import (
    LibraryError,
    LibrarySource,
    index_folder,
    library_folders,
    name_words,
    read_sidecar,
    remove_folder,
)
from pipeline.providers.base import ProviderError, SceneSource

LANDSCAPE = (1920, 1080)


@pytest.fixture(scope="module")
def embedder():
    from pipeline.trends.topics import Embedder

    return Embedder("cpu")


def image(path: Path, size=(64, 36), color="navy") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def clip(path: Path, size="64x36", seconds=1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10",
                    "-t", str(seconds), "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    lib = tmp_path / "media"
    image(lib / "octopus-opening-jar_01.jpg")
    image(lib / "city_traffic_night.png", (36, 64))
    image(lib / "reef" / "IMG_2031.webp")
    clip(lib / "diver-exploring-shipwreck.mp4")
    clip(lib / "clips" / "jellyfishGlowingInTheDark.mov", "36x64", 2.0)
    (lib / "notes.pdf").write_bytes(b"%PDF-1.4 not media")
    image(lib / ".hidden.jpg")
    image(lib / ".cache" / "thumb.jpg")
    return lib


def rows(db) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in db.query_dicts("SELECT * FROM media_files")}


def test_index_reads_every_image_and_clip(db, folder, embedder):
    report = index_folder(db, folder, embedder)
    assert (report.files, report.added, report.unchanged, report.removed) == (5, 5, 0, 0)
    assert not report.skipped  # hidden files and the pdf are not media: left out without a word
    found = rows(db)
    assert set(found) == {"octopus-opening-jar_01.jpg", "city_traffic_night.png", "IMG_2031.webp",
                          "diver-exploring-shipwreck.mp4", "jellyfishGlowingInTheDark.mov"}
    jar, tall_clip = found["octopus-opening-jar_01.jpg"], found["jellyfishGlowingInTheDark.mov"]
    assert (jar["kind"], jar["width"], jar["height"], jar["orientation"], jar["duration_s"]) == \
        ("image", 64, 36, "landscape", None)
    assert jar["caption"] == "octopus opening jar"
    assert (tall_clip["kind"], tall_clip["width"], tall_clip["height"], tall_clip["orientation"]) == \
        ("video", 36, 64, "portrait")
    assert tall_clip["duration_s"] == pytest.approx(2.0, abs=0.15)
    assert tall_clip["caption"] == "jellyfish glowing in the dark clips"  # the sub-folder's name joins in
    assert found["IMG_2031.webp"]["caption"] == "reef"
    assert all(len(r["embedding"]) == 384 for r in found.values())
    assert all(r["bytes"] > 0 and r["folder"] == str(folder.resolve()) for r in found.values())
    assert [f["path"] for f in library_folders(db)] == [str(folder.resolve())]
    assert library_folders(db)[0]["images"] == 3 and library_folders(db)[0]["clips"] == 2


def test_reindexing_is_incremental(db, folder, embedder):
    index_folder(db, folder, embedder)
    before = rows(db)
    touched = folder / "octopus-opening-jar_01.jpg"
    image(touched, (80, 80), "red")
    os.utime(touched, (touched.stat().st_atime, touched.stat().st_mtime + 5))
    (folder / "city_traffic_night.png").unlink()
    image(folder / "coral-reef.jpg")

    report = index_folder(db, folder, embedder)
    assert (report.added, report.updated, report.removed, report.unchanged, report.files) == (1, 1, 1, 3, 5)
    after = rows(db)
    assert "city_traffic_night.png" not in after and "coral-reef.jpg" in after
    assert after["octopus-opening-jar_01.jpg"]["orientation"] == "square"
    assert after["octopus-opening-jar_01.jpg"]["id"] == before["octopus-opening-jar_01.jpg"]["id"]
    assert after["diver-exploring-shipwreck.mp4"]["indexed_at"] == before["diver-exploring-shipwreck.mp4"]["indexed_at"]
    again = index_folder(db, folder, embedder)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 5)
    assert "5 files indexed" in again.summary()


def test_nothing_is_probed_again_when_nothing_changed(db, folder, embedder):
    calls = []

    def counting_probe(path, *, timeout_s=None):
        calls.append(path)
        return probe(path, timeout_s=timeout_s)

    index_folder(db, folder, embedder, counting_probe)
    assert len(calls) == 2
    index_folder(db, folder, embedder, counting_probe)
    assert len(calls) == 2


def test_a_sidecar_caption_changes_what_a_search_finds(db, tmp_path, embedder):
    lib = tmp_path / "photos"
    image(lib / "IMG_0001.jpg")
    image(lib / "mountain-lake-sunrise.jpg")
    image(lib / "city-skyline.jpg")
    source = LibrarySource(db, embedder)
    report = index_folder(db, lib, embedder)
    assert report.files == 3 and report.unnamed == 1 and "1 with no words" in report.summary()
    found = source.search("octopus hiding in a coral reef", LANDSCAPE)[0]
    assert "IMG_0001.jpg" not in {c.local_path.name for c in found}  # no words: nothing to judge it by

    (lib / "IMG_0001.txt").write_text("An octopus hiding in a coral reef\n", encoding="utf-8")
    report = index_folder(db, lib, embedder)
    assert report.updated == 1 and report.unnamed == 0  # the image itself did not change; its caption did
    first = source.search("octopus hiding in a coral reef", LANDSCAPE)[0][0]
    assert first.local_path.name == "IMG_0001.jpg" and first.text == "An octopus hiding in a coral reef"

    (lib / "IMG_0001.txt").unlink()
    (lib / "IMG_0001.jpg.json").write_text(json.dumps({"caption": "a red fox in the snow", "tags": ["fox", "winter"]}))
    index_folder(db, lib, embedder)
    assert source.search("fox in winter", LANDSCAPE)[0][0].local_path.name == "IMG_0001.jpg"


def test_sidecars(tmp_path):
    media = image(tmp_path / "a.jpg")
    assert read_sidecar(media) == ("", False)
    (tmp_path / "a.json").write_text('{"caption": "octopus", "tags": "sea, reef"}')
    assert read_sidecar(media) == ("octopus sea, reef", False)
    (tmp_path / "a.json").write_text("{not json")
    assert read_sidecar(media) == ("", True)
    (tmp_path / "a.jpg.txt").write_text("  an   octopus \n in a jar ")
    assert read_sidecar(media) == ("an octopus in a jar", False)  # the full name's sidecar comes first


@pytest.mark.parametrize("name, words", [("octopus-opening-jar_01.mp4", "octopus opening jar"),
                                         ("IMG_2031.jpg", ""), ("PXL_20240101_octopusArm.jpg", "octopus arm"),
                                         ("Coral Reef (2).png", "coral reef")])
def test_name_words(name, words):
    assert name_words(Path(name)) == words


def test_links_out_of_the_folder_are_skipped(db, tmp_path, embedder):
    lib = tmp_path / "media"
    image(lib / "octopus.jpg")
    secret = image(tmp_path / "elsewhere" / "private.jpg")
    (lib / "private.jpg").symlink_to(secret)
    (lib / "octopus-again.jpg").symlink_to(lib / "octopus.jpg")  # inside, but the same file
    (lib / "outside").symlink_to(tmp_path / "elsewhere", target_is_directory=True)  # not followed
    report = index_folder(db, lib, embedder)
    assert report.files == 1 and set(rows(db)) == {"octopus.jpg"}
    assert report.skipped == {"outside the folder (link)": 1, "duplicate link": 1}


def test_unreadable_files_are_counted_never_fatal(db, tmp_path, embedder):
    lib = tmp_path / "media"
    image(lib / "good.jpg")
    (lib / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (lib / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    (lib / "empty.png").write_bytes(b"")
    clip(lib / "slow.mkv")
    image(lib / "bad-sidecar.jpg")
    (lib / "bad-sidecar.json").write_text("[1, 2")

    def slow_probe(path, *, timeout_s=None):
        if path.suffix == ".mkv":
            raise FFmpegTimeout(f"reading {path.name} took over {timeout_s} s", limit_s=timeout_s or 0)
        return probe(path, timeout_s=timeout_s)

    report = index_folder(db, lib, embedder, slow_probe)
    assert set(rows(db)) == {"good.jpg", "bad-sidecar.jpg"}
    assert report.skipped == {"unreadable image": 1, "unreadable clip": 1, "empty": 1, "took too long to read": 1,
                              "sidecar unreadable (file indexed by its name)": 1}
    assert "1 empty" in report.summary()


def test_files_over_the_limits_are_counted(db, tmp_path, embedder, monkeypatch):
    from pipeline.media import library

    lib = tmp_path / "media"
    image(lib / "huge.png", (200, 100))
    Image.frombytes("RGB", (60, 60), os.urandom(60 * 60 * 3)).save(lib / "heavy.jpg")  # noise: a bigger file
    image(lib / "fine.jpg")
    for i in range(3):
        image(lib / "more" / f"extra-{i}.jpg")
    monkeypatch.setattr(library, "MAX_IMAGE_PIXELS", 10_000)
    monkeypatch.setattr(library, "MAX_IMAGE_BYTES", (lib / "heavy.jpg").stat().st_size - 1)
    assert (lib / "fine.jpg").stat().st_size < library.MAX_IMAGE_BYTES
    monkeypatch.setattr(library, "MAX_FILES", 4)
    report = index_folder(db, lib, embedder)
    assert report.skipped == {"more than 4 files: the rest of the folder was not read": 1, "image over 0 MB": 1,
                              "image over 0 megapixels": 1}
    assert set(rows(db)) == {"fine.jpg", "extra-0.jpg"}


def test_folders_must_exist_and_not_overlap(db, tmp_path, embedder):
    with pytest.raises(LibraryError, match="not a folder"):
        index_folder(db, tmp_path / "missing", embedder)
    image(tmp_path / "all" / "sub" / "a.jpg")
    index_folder(db, tmp_path / "all" / "sub", embedder)
    with pytest.raises(LibraryError, match="holds the library folder"):
        index_folder(db, tmp_path / "all", embedder)
    assert remove_folder(db, tmp_path / "all" / "sub") == 1
    assert index_folder(db, tmp_path / "all", embedder).files == 1
    with pytest.raises(LibraryError, match="is inside the library folder"):
        index_folder(db, tmp_path / "all" / "sub", embedder)


def test_search_ranks_the_matching_file_first_and_offers_it_as_it_is(db, folder, embedder):
    source = LibrarySource(db, embedder)
    assert isinstance(source, SceneSource) and source.name == "library"
    assert source.check() == "no media folder is indexed: add one in Settings"
    index_folder(db, folder, embedder)
    assert source.check() is None

    found, usage = source.search("octopus jar", LANDSCAPE, limit=3)
    assert usage == [] and len(found) == 3
    best = found[0]
    assert best.local_path == folder.resolve() / "octopus-opening-jar_01.jpg"
    assert (best.provider, best.kind, best.licence, best.attribution_required) == ("library", "image", "own", False)
    assert best.source_id == f"{folder.resolve()}::octopus-opening-jar_01.jpg"
    assert (best.width, best.height, best.duration_s) == (64, 36, None)
    assert source.search("a scuba diver at a wreck", LANDSCAPE)[0][0].local_path.name == "diver-exploring-shipwreck.mp4"
    jelly = source.search("glowing jellyfish", LANDSCAPE)[0][0]
    assert jelly.kind == "video" and jelly.duration_s == pytest.approx(2.0, abs=0.15)
    assert jelly.source_id.endswith("::clips/jellyfishGlowingInTheDark.mov")

    path, usage = source.fetch(best, cache=None)
    assert path == best.local_path and usage == []


def test_fetch_refuses_a_file_that_left_its_folder(db, folder, tmp_path, embedder):
    source = LibrarySource(db, embedder)
    index_folder(db, folder, embedder)
    best = source.search("octopus jar", LANDSCAPE)[0][0]
    moved = best.local_path.rename(tmp_path / "moved.jpg")
    with pytest.raises(ProviderError, match="no longer in the media library"):
        source.fetch(best, cache=None)
    best.local_path.symlink_to(moved)  # back under its name, but as a link pointing out of the folder
    with pytest.raises(ProviderError, match="no longer in the media library"):
        source.fetch(best, cache=None)


def test_without_the_model_files_are_indexed_and_embedded_later(db, folder, embedder):
    report = index_folder(db, folder, None)
    assert report.added == 5 and all(r["embedding"] is None for r in rows(db).values())
    assert LibrarySource(db, None).search("octopus", LANDSCAPE) == ([], [])
    assert "embedding model is unavailable" in LibrarySource(db, None).check()
    report = index_folder(db, folder, embedder)
    assert report.updated == 5 and all(r["embedding"] is not None for r in rows(db).values())
