"""The scene sources (Pexels, Pixabay, OpenAI images) against loopback fakes that speak their wire
formats: answers mapped to Candidates, rate limits honoured, errors typed, files fetched once into
the media cache, keys never shown."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fakes_media import FakeOpenAIImages
from pipeline.config import Settings
from pipeline.costs import PriceTable, Usage
from pipeline.media.cache import MediaCache
from pipeline.providers.base import ProviderError, SceneSource, TransientError
from pipeline.providers.http import pick_rendition, redact, slug_words
from pipeline.providers.openai_image import OpenAIImageSource
from pipeline.providers.pexels import PexelsSource, photo_candidate
from pipeline.providers.pixabay import PixabaySource

LANDSCAPE, SHORTS = (1920, 1080), (1080, 1920)


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s where no wait was due")


def source_settings(tmp_path: Path, pexels=None, pixabay=None, openai=None, **kw) -> Settings:
    values = dict(data_dir=tmp_path / "data", request_timeout_s=5.0, provider_retries=2,
                  pexels_api_key=None, pixabay_api_key=None, openai_api_key=None, openai_base_url=None)
    if pexels:
        values.update(pexels_api_key=pexels.key, pexels_api_root=pexels.url + "/")
    if pixabay:
        values.update(pixabay_api_key=pixabay.key, pixabay_api_root=pixabay.root)
    if openai:
        values.update(openai_api_key=openai.key, openai_base_url=openai.url + "/v1")
    values.update(kw)
    return Settings(**values)


def prices(settings: Settings) -> PriceTable:
    return PriceTable.load(settings.prices_file)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def images(media):
    with FakeOpenAIImages(media) as fake:
        yield fake


# -- pure logic --------------------------------------------------------------------------------

def dims(*sizes):
    return [{"width": w, "height": h} for w, h in sizes]


@pytest.mark.parametrize("files, size, chosen", [
    (dims((640, 360), (1280, 720), (1920, 1080), (3840, 2160)), LANDSCAPE, (1920, 1080)),  # reaches 1080, no more
    (dims((640, 360), (1280, 720)), LANDSCAPE, (1280, 720)),  # none reaches it: the largest
    (dims((1920, 1080), (1080, 1920), (2160, 3840)), SHORTS, (1080, 1920)),  # the shape of a Short first
    (dims((2160, 3840), (1440, 2560)), SHORTS, (1440, 2560)),
    (dims((1920, 1080)), SHORTS, (1920, 1080)),  # nothing of its shape: the best of the rest
    (dims((None, None), (0, 0)), LANDSCAPE, None),  # HLS entries carry no size
    ([], LANDSCAPE, None),
])
def test_pick_rendition_takes_the_smallest_file_that_reaches_the_video(files, size, chosen):
    best = pick_rendition(files, size)
    assert (best and (best["width"], best["height"])) == chosen or (best is None and chosen is None)


@pytest.mark.parametrize("url, words", [
    ("https://www.pexels.com/video/an-octopus-on-the-reef-12345/", "an octopus on the reef"),
    ("https://www.pexels.com/photo/trees-during-day-3573351/", "trees during day"),
    ("https://www.pexels.com/video/12345/", ""),
    ("https://pixabay.com/videos/id-125/", ""),
    ("https://pixabay.com/videos/octopus-sea-ocean-125/", "octopus sea ocean"),
    (None, ""),
])
def test_slug_words_read_the_page_url(url, words):
    assert slug_words(url) == words


@pytest.mark.parametrize("url, shown", [
    ("https://pixabay.com/api/?key=123-abc&q=octopus", "https://pixabay.com/api/?key=***&q=octopus"),
    ("https://pixabay.com/api/?q=octopus&KEY=123-abc", "https://pixabay.com/api/?q=octopus&KEY=***"),
    ("see https://x.test/a.png?se=1&sig=SIGNED%2B1 now", "see https://x.test/a.png?se=1&sig=*** now"),
    ("https://www.pexels.com/video/monkey-key-12/", "https://www.pexels.com/video/monkey-key-12/"),
])
def test_redact_hides_credentials_in_urls_and_messages(url, shown):
    assert redact(url) == shown


def test_a_pexels_photo_uses_large2x_when_it_fills_the_frame():
    photo = {"id": 7, "width": 6000, "height": 4000, "src": {"original": "https://i/o.jpg", "large2x": "https://i/l.jpg"}}
    small = photo_candidate(photo, (1280, 720))
    assert (small.url, small.width, small.height) == ("https://i/l.jpg", 1880, 1253)
    big = photo_candidate(photo, LANDSCAPE)  # 1880 wide would be enlarged for 1920: the original
    assert (big.url, big.width, big.height) == ("https://i/o.jpg", 6000, 4000)


# -- Pexels ------------------------------------------------------------------------------------

def test_pexels_maps_a_landscape_answer_to_credited_candidates(tmp_path, pexels):
    settings = source_settings(tmp_path, pexels=pexels)
    source = PexelsSource.from_settings(settings)
    assert isinstance(source, SceneSource) and source.check(settings) is None
    found, usage = source.search("  octopus\n reef ", LANDSCAPE, limit=10)
    videos, photos = [c for c in found if c.kind == "video"], [c for c in found if c.kind == "image"]
    first, second = videos
    assert (first.source_id, first.url, first.width, first.height) == \
        ("video:12345", pexels.file("land-1080.mp4"), 1920, 1080)  # not the 4K, not the HLS playlist
    assert first.text == "an octopus on the reef" and first.duration_s == 3
    assert (first.author, first.author_url) == ("Ana Diver", "https://www.pexels.com/@ana-diver")
    assert first.page_url == "https://www.pexels.com/video/an-octopus-on-the-reef-12345/"
    assert first.preview_url == "https://images.pexels.com/videos/12345/pictures/preview-0.jpeg"
    assert first.licence == "Pexels License" and first.attribution_required and first.local_path is None
    assert (second.url, second.width, second.height) == (pexels.file("land-720.mp4"), 1280, 720)  # the largest it has
    [photo] = photos
    assert (photo.source_id, photo.url, photo.width, photo.height) == ("photo:3573351", pexels.file("still.jpg"), 6000, 4000)
    assert photo.text == "octopus in blue water. Octopus swimming in blue water"
    assert (photo.author, photo.author_url) == ("Lukas Reef", "https://www.pexels.com/@lukas-reef")
    assert usage == [Usage("pexels", "api", "requests", 2.0)] and prices(settings).estimate(usage) == 0
    sent = pexels.requests
    assert [r["path"] for r in sent] == ["/videos/search", "/v1/search"]
    assert all(r["headers"]["authorization"] == pexels.key for r in sent)
    assert sent[0]["query"] == {"query": ["octopus reef"], "orientation": ["landscape"], "size": ["medium"],
                                "per_page": ["10"]}
    assert sent[1]["query"]["size"] == ["small"]


def test_pexels_gives_a_short_the_vertical_file(tmp_path, pexels):
    found, _ = PexelsSource(source_settings(tmp_path, pexels=pexels)).search("jellyfish", SHORTS)
    video = next(c for c in found if c.kind == "video")
    assert (video.source_id, video.url, video.width, video.height) == \
        ("video:34567", pexels.file("tall-1080.mp4"), 1080, 1920)
    assert video.text == "a jellyfish drifting"
    assert {r["query"]["orientation"][0] for r in pexels.requests} == {"portrait"}


def test_pexels_rejected_key_is_a_provider_error_and_not_retried(tmp_path, pexels):
    settings = source_settings(tmp_path, pexels=pexels, pexels_api_key="wrong")
    with pytest.raises(ProviderError) as info:
        PexelsSource(settings, sleep=no_sleep).search("octopus", LANDSCAPE)
    assert not isinstance(info.value, TransientError)
    assert str(info.value) == "the Pexels key was rejected: check PEXELS_API_KEY"
    assert info.value.provider == "pexels" and len(pexels.requests) == 1
    assert info.value.usage == [Usage("pexels", "api", "requests", 1.0)]


def test_stock_sources_without_a_key_say_so(tmp_path):
    settings = source_settings(tmp_path)
    assert "PEXELS_API_KEY" in PexelsSource.check(settings)
    assert "PEXELS_API_KEY" in PexelsSource.check(source_settings(tmp_path, pexels_api_key="  "))
    assert "PIXABAY_API_KEY" in PixabaySource.check(settings)
    with pytest.raises(ProviderError, match="PEXELS_API_KEY is not set"):
        PexelsSource(settings).search("octopus", LANDSCAPE)


@pytest.mark.parametrize("retry_after, reset_in, low, high", [("3", 3600, 3.0, 3.0),  # Retry-After wins
                                                                (None, 5, 3.5, 5.0)])  # else until the reset
def test_pexels_429_is_waited_out_then_retried(tmp_path, pexels, retry_after, reset_in, low, high):
    pexels.retry_after, pexels.reset_in = retry_after, reset_in
    pexels.queue("429")
    waits: list[float] = []
    found, usage = PexelsSource(source_settings(tmp_path, pexels=pexels), sleep=waits.append).search("octopus", LANDSCAPE)
    assert len(found) == 3 and len(waits) == 1 and low <= waits[0] <= high
    assert [r["behaviour"] for r in pexels.requests] == ["429", "ok", "ok"]
    assert usage == [Usage("pexels", "api", "requests", 3.0)]  # the refused request counts against the limit too


def test_pexels_429_that_persists_is_transient(tmp_path, pexels):
    pexels.retry_after = "1"
    pexels.queue("429", "429", "429")
    waits: list[float] = []
    with pytest.raises(TransientError, match="rate limiting") as info:
        PexelsSource(source_settings(tmp_path, pexels=pexels), sleep=waits.append).search("octopus", LANDSCAPE)
    assert waits == [1.0, 1.0] and len(pexels.requests) == 3  # provider_retries=2: three tries
    assert info.value.usage == [Usage("pexels", "api", "requests", 3.0)]


def test_pexels_429_with_a_distant_reset_fails_at_once(tmp_path, pexels):
    pexels.reset_in = 3600  # the hourly window: not worth holding a worker thread for
    pexels.queue("429")
    with pytest.raises(TransientError, match="resets in 60 min"):
        PexelsSource(source_settings(tmp_path, pexels=pexels), sleep=no_sleep).search("octopus", LANDSCAPE)
    assert len(pexels.requests) == 1


def test_a_spent_window_is_waited_out_before_the_next_request(tmp_path, pexels):
    pexels.reset_in = 4
    pexels.queue("spent")  # answers, saying it was the window's last request
    waits: list[float] = []
    found, usage = PexelsSource(source_settings(tmp_path, pexels=pexels), sleep=waits.append).search("octopus", LANDSCAPE)
    assert len(waits) == 1 and 2.5 <= waits[0] <= 4 and len(found) == 3 and usage[0].quantity == 2  # no 429 met


def test_a_window_spent_for_hours_is_not_sent_to(tmp_path, pexels):
    pexels.reset_in = 7200
    pexels.queue("spent")
    with pytest.raises(TransientError, match="no requests left .* resets in 2 h, so the search was not sent") as info:
        PexelsSource(source_settings(tmp_path, pexels=pexels), sleep=no_sleep).search("octopus", LANDSCAPE)
    assert len(pexels.requests) == 1 and info.value.usage == [Usage("pexels", "api", "requests", 1.0)]


def test_pexels_5xx_is_retried_with_backoff_even_when_the_window_resets_later(tmp_path, pexels):
    pexels.queue("ok", "503")  # the first answer said the hourly window resets in an hour: a 503 is not that
    waits: list[float] = []
    found, usage = PexelsSource(source_settings(tmp_path, pexels=pexels), sleep=waits.append).search("octopus", LANDSCAPE)
    assert waits == [1.0] and len(found) == 3 and usage[0].quantity == 3


def test_pexels_empty_results_are_an_empty_list(tmp_path, pexels):
    pexels.queue("empty", "empty")
    found, usage = PexelsSource(source_settings(tmp_path, pexels=pexels)).search("zzzxq", LANDSCAPE)
    assert found == [] and usage == [Usage("pexels", "api", "requests", 2.0)]
    assert PexelsSource(source_settings(tmp_path, pexels=pexels)).search("   ", LANDSCAPE) == ([], [])


def test_pexels_fetches_once_for_two_videos_and_never_sends_the_key_to_the_cdn(tmp_path, pexels, media, caplog):
    caplog.set_level(logging.DEBUG)
    settings = source_settings(tmp_path, pexels=pexels)
    cache = MediaCache(settings.media_dir)
    first_video, second_video = PexelsSource(settings), PexelsSource(settings)
    found, _ = first_video.search("octopus", LANDSCAPE)
    path, usage = first_video.fetch(found[0], cache)
    again, usage_again = second_video.fetch(second_video.search("octopus", LANDSCAPE)[0][0], MediaCache(settings.media_dir))
    assert path == again and path.read_bytes() == media["land-1080.mp4"] and usage == usage_again == []
    assert pexels.downloads == {"land-1080.mp4": 1}
    assert len(pexels.requests) == 2  # the second video's search was remembered (Pexels asks for a day's cache)
    assert all("authorization" not in r["headers"] for r in pexels.file_requests)
    meta = cache.record("pexels", "video:12345")["meta"]
    assert meta["author"] == "Ana Diver" and meta["licence"] == "Pexels License"
    assert meta["page_url"] == found[0].page_url and meta["url"] == found[0].url
    assert "HTTP Request: GET" in caplog.text and pexels.key not in caplog.text


# -- Pixabay -----------------------------------------------------------------------------------

def test_pixabay_maps_an_answer_to_credited_candidates(tmp_path, pixabay):
    settings = source_settings(tmp_path, pixabay=pixabay)
    source = PixabaySource.from_settings(settings)
    assert isinstance(source, SceneSource)
    found, usage = source.search("octopus", LANDSCAPE)
    clip, tall, photo = found
    assert (clip.source_id, clip.kind, clip.url, clip.width, clip.height, clip.duration_s) == \
        ("video:125", "video", pixabay.file("land-1080.mp4"), 1920, 1080, 3.0)
    assert clip.text == "octopus, sea, ocean"  # the slug says nothing the tags do not
    assert (clip.author, clip.author_url) == ("Coverr-Free-Footage", "https://pixabay.com/users/Coverr-Free-Footage-1281706/")
    assert clip.page_url == "https://pixabay.com/videos/octopus-sea-ocean-125/"
    assert clip.licence == "Pixabay Content License" and not clip.attribution_required
    assert clip.preview_url is None  # Pixabay forbids hotlinking: the Library shows the cached file
    assert (tall.url, tall.width, tall.height) == (pixabay.file("tall-1080.mp4"), 1080, 1920)  # 'large' was empty
    assert (photo.source_id, photo.kind, photo.url, photo.width, photo.height) == \
        ("photo:195893", "image", pixabay.file("still.jpg"), 1280, 853)
    assert photo.text == "octopus, sea creature, tentacles" and photo.author == "Josch13"
    assert usage == [Usage("pixabay", "api", "requests", 2.0)] and prices(settings).estimate(usage) == 0
    videos, images = pixabay.requests
    assert videos["path"] == "/api/videos/" and images["path"] == "/api/"
    assert videos["query"]["key"] == [pixabay.key]  # the key did travel, added below httpx's client
    assert videos["query"]["video_type"] == ["film"] and videos["query"]["safesearch"] == ["true"]
    assert images["query"]["image_type"] == ["photo"] and images["query"]["orientation"] == ["horizontal"]
    PixabaySource(settings).search("jellyfish", SHORTS)
    assert pixabay.requests[-1]["query"]["orientation"] == ["vertical"]


@pytest.mark.parametrize("key, behaviour", [("wrong-key", "ok"), (None, "401")])
def test_pixabay_rejected_key_is_a_provider_error_and_not_retried(tmp_path, pixabay, key, behaviour):
    settings = source_settings(tmp_path, pixabay=pixabay, **({"pixabay_api_key": key} if key else {}))
    pixabay.queue(behaviour)
    with pytest.raises(ProviderError) as info:
        PixabaySource(settings, sleep=no_sleep).search("octopus", LANDSCAPE)
    assert not isinstance(info.value, TransientError) and len(pixabay.requests) == 1
    assert str(info.value) == "the Pixabay key was rejected: check PIXABAY_API_KEY"


def test_pixabay_429_waits_for_the_reset_seconds_then_succeeds(tmp_path, pixabay):
    pixabay.reset_in = 7  # Pixabay's X-RateLimit-Reset counts seconds from now
    pixabay.queue("429")
    waits: list[float] = []
    source = PixabaySource(source_settings(tmp_path, pixabay=pixabay), sleep=waits.append, clock=lambda: 1_000.0)
    found, usage = source.search("octopus", LANDSCAPE)
    assert waits == [7.0] and len(found) == 3 and usage[0].quantity == 3


def test_pixabay_429_that_persists_is_transient_and_empty_is_empty(tmp_path, pixabay):
    pixabay.reset_in = 1
    pixabay.queue("429", "429", "429")
    with pytest.raises(TransientError, match="Pixabay is rate limiting"):
        PixabaySource(source_settings(tmp_path, pixabay=pixabay), sleep=lambda s: None).search("octopus", LANDSCAPE)
    pixabay.queue("empty", "empty")
    found, usage = PixabaySource(source_settings(tmp_path, pixabay=pixabay)).search("nothing here", LANDSCAPE)
    assert found == [] and usage[0].quantity == 2


def test_pixabay_key_never_appears_in_logs_errors_candidates_or_the_cache(tmp_path, pixabay, caplog):
    caplog.set_level(logging.DEBUG)
    key = pixabay.key
    settings = source_settings(tmp_path, pixabay=pixabay)
    cache = MediaCache(settings.media_dir)
    pixabay.reset_in = 1
    pixabay.queue("429")  # a wait is logged
    found, _ = PixabaySource(settings, sleep=lambda s: None).search("octopus", LANDSCAPE)
    fetched = [PixabaySource(settings).fetch(c, cache)[0] for c in (found[0], found[2])]
    assert [p.read_bytes()[:4] for p in fetched] == [pixabay.media["land-1080.mp4"][:4], b"\xff\xd8\xff\xe0"]
    assert all(p.is_relative_to(settings.media_dir) for p in fetched)  # downloaded, never hotlinked
    errors = []
    for behaviours in (["503"] * 3, ["echo"]):
        pixabay.queue(*behaviours)
        with pytest.raises(ProviderError) as info:
            PixabaySource(settings, sleep=lambda s: None, memo_s=0).search("squid", LANDSCAPE)
        errors.append(info.value)
    down = source_settings(tmp_path, pixabay=pixabay, pixabay_api_root="http://127.0.0.1:9/api/", provider_retries=0)
    with pytest.raises(TransientError) as info:
        PixabaySource(down, memo_s=0).search("squid", LANDSCAPE)
    errors.append(info.value)
    assert "HTTP Request: GET" in caplog.text and "Pixabay is rate limiting" in caplog.text  # the logs were seen
    assert key not in caplog.text
    assert all(key not in str(e) and key not in repr(e.args) for e in errors), [str(e) for e in errors]
    assert "bad request /api/videos/?key=***; token *** unknown" in str(errors[1])  # as a URL or bare
    assert all(key not in repr(c) for c in found)
    assert all(key.encode() not in p.read_bytes() for p in files_under(settings.media_dir))
    assert all(pixabay.requests[i]["query"]["key"] == [key] for i in range(len(pixabay.requests)))


# -- OpenAI images -----------------------------------------------------------------------------

def test_openai_image_search_offers_one_prompt_and_sends_nothing(tmp_path, images):
    source = OpenAIImageSource.from_settings(source_settings(tmp_path, openai=images))
    assert isinstance(source, SceneSource)
    [wide], usage = source.search("octopus arms", LANDSCAPE)
    assert usage == [] and images.requests == []
    assert wide.provider == "openai-image" and wide.kind == "image" and wide.local_path is None and wide.url is None
    assert "photograph of octopus arms" in wide.text and "No text" in wide.text
    assert (wide.width, wide.height) == (1536, 1024)
    [tall], _ = source.search("octopus arms", SHORTS)
    assert (tall.width, tall.height) == (1024, 1536) and tall.source_id != wide.source_id
    assert source.search("  ", LANDSCAPE) == ([], [])


def test_openai_image_generates_once_and_returns_the_priced_usage(tmp_path, images, media, caplog):
    caplog.set_level(logging.DEBUG)
    settings = source_settings(tmp_path, openai=images)
    source = OpenAIImageSource(settings)
    [candidate], _ = source.search("octopus arms", LANDSCAPE)
    path, usage = source.fetch(candidate, MediaCache(settings.media_dir))
    assert path.read_bytes() == media["still.png"] and path.suffix == ".png"
    sent = json.loads(images.requests[0]["body"])
    assert sent == {"model": "gpt-image-1", "prompt": candidate.text, "n": 1, "quality": "medium", "size": "1536x1024"}
    assert [(u.provider, u.model, u.unit, u.quantity) for u in usage] == [
        ("openai", "gpt-image-1", "image_medium_1536x1024", 1.0),
        ("openai", "gpt-image-1", "input_tokens", float(len(candidate.text) // 4))]
    assert float(prices(settings).price(usage[0]).usd) == pytest.approx(0.063)
    # a second video (or a resumed job) with the same prompt: from the cache, free
    again, usage_again = OpenAIImageSource(settings).fetch(candidate, MediaCache(settings.media_dir))
    assert again == path and usage_again == [] and len(images.requests) == 1
    assert images.key not in caplog.text


def test_openai_image_url_answers_are_downloaded_with_the_signature_redacted(tmp_path, images, media):
    settings = source_settings(tmp_path, openai=images, openai_image_quality="low")
    source = OpenAIImageSource(settings)
    [candidate], _ = source.search("coral", SHORTS)
    images.queue("url")
    cache = MediaCache(settings.media_dir)
    path, usage = source.fetch(candidate, cache)
    assert path.read_bytes() == media["still.png"] and usage[0].unit == "image_low_1024x1536"
    assert images.downloads["still.png"] == 1
    assert cache.record("openai-image", candidate.source_id)["meta"]["url"].endswith("sig=***")
    assert all(b"SIGNEDSECRET123" not in p.read_bytes() for p in files_under(settings.media_dir))


def test_a_refused_prompt_is_a_provider_error_and_not_retried(tmp_path, images):
    source = OpenAIImageSource(source_settings(tmp_path, openai=images))
    [candidate], _ = source.search("octopus", LANDSCAPE)
    images.queue("refuse")
    with pytest.raises(ProviderError, match="refused the image prompt") as info:
        source.fetch(candidate, MediaCache(tmp_path / "media"))
    assert not isinstance(info.value, TransientError) and len(images.requests) == 1
    assert info.value.usage == [] and "safety system" in str(info.value)


@pytest.mark.parametrize("behaviours, kind, message, tries", [  # one try each: the SDK never resends an image
    (["401"], ProviderError, "check OPENAI_API_KEY", 1),
    (["quota"], ProviderError, "out of credit", 1),
    (["503"], TransientError, "InternalServer", 1),
    (["429"], TransientError, "rate limited", 1),
])
def test_openai_image_failures_are_typed(tmp_path, images, behaviours, kind, message, tries):
    source = OpenAIImageSource(source_settings(tmp_path, openai=images, provider_retries=1))
    [candidate], _ = source.search("octopus", LANDSCAPE)
    images.queue(*behaviours)
    with pytest.raises(kind, match=message) as info:
        source.fetch(candidate, MediaCache(tmp_path / "media"))
    assert len(images.requests) == tries and info.value.usage == []
    assert kind is TransientError or not isinstance(info.value, TransientError)
    assert images.key not in str(info.value)


def test_an_image_that_times_out_is_counted_as_billed_and_never_resent(tmp_path, images, monkeypatch):
    from pipeline.providers import openai_image

    monkeypatch.setattr(openai_image, "GENERATE_TIMEOUT_S", 0.5)
    source = OpenAIImageSource(source_settings(tmp_path, openai=images, request_timeout_s=0.5, provider_retries=2))
    [candidate], _ = source.search("octopus", LANDSCAPE)
    images.queue("slow", "slow", "slow")
    with pytest.raises(TransientError, match="counted as billed") as info:
        source.fetch(candidate, MediaCache(tmp_path / "media"))
    assert len(images.requests) == 1  # not resent: a second image would be billed unseen
    assert [u.unit for u in info.value.usage] == ["image_medium_1536x1024", "input_tokens"]


def test_a_billed_image_that_is_unusable_carries_its_usage(tmp_path, images):
    source = OpenAIImageSource(source_settings(tmp_path, openai=images))
    [candidate], _ = source.search("octopus", LANDSCAPE)
    images.queue("garbage")
    with pytest.raises(ProviderError, match="not a usable image") as info:
        source.fetch(candidate, MediaCache(tmp_path / "media"))
    assert [u.unit for u in info.value.usage] == ["image_medium_1536x1024", "input_tokens"]
    assert MediaCache(tmp_path / "media").get("openai-image", candidate.source_id) is None


@pytest.mark.parametrize("quality, size, usd", [
    ("low", (1080, 1080), 0.011), ("low", LANDSCAPE, 0.016), ("medium", (1080, 1080), 0.042),
    ("medium", SHORTS, 0.063), ("high", (1080, 1080), 0.167), ("high", LANDSCAPE, 0.25), ("high", SHORTS, 0.25),
])
def test_openai_image_estimate_is_priced_by_the_table(tmp_path, quality, size, usd):
    settings = source_settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1", openai_image_quality=quality)
    estimate = OpenAIImageSource(settings).estimate(10, size)
    table = prices(settings)
    assert float(table.price(estimate[0]).usd) == pytest.approx(10 * usd)
    assert float(table.estimate(estimate)) == pytest.approx(10 * usd + 10 * 60 * 5e-06)


def test_openai_image_check_names_what_is_missing(tmp_path):
    assert "OPENAI_API_KEY" in OpenAIImageSource.check(source_settings(tmp_path))
    assert OpenAIImageSource.check(source_settings(tmp_path, openai_base_url="http://127.0.0.1:9/v1")) is None
    bad = source_settings(tmp_path, openai_api_key="k", openai_image_quality="ultra")
    assert "low, medium, high" in OpenAIImageSource.check(bad)
