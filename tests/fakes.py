"""Loopback fakes of the paid services, speaking their real wire protocols.

Each fake is a small HTTP server on 127.0.0.1 that the real SDK talks to (openai,
google-cloud-texttospeech over its REST transport, elevenlabs). A fake answers from a
queue of behaviours (``ok``, ``429``, ``503``, ``401``, ``timeout``, ``invalid`` ...),
records every request, and checks the key the way the real service does.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import threading
import time
import wave
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def tone_pcm(seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * math.pi * 180 * t) * 32767).astype("<i2").tobytes()


def wav_bytes(pcm: bytes, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 for a handler class; a context manager that serves while open."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class FakeServer(LoopbackServer):
    """Base: a threaded HTTP server with a behaviour queue and a request log."""

    def __init__(self, key: str = "test-key"):
        self.key = key
        self.behaviours: list[str] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802 - reads (voices.list) answer without consuming queued behaviours
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, out, payload = fake.respond_get(self.path, headers)
                self.send_response(status)
                for k, v in out.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake.lock:
                    behaviour = fake.behaviours.pop(0) if fake.behaviours else "ok"
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    fake.requests.append({"path": self.path, "headers": headers, "body": body, "behaviour": behaviour})
                status, headers, payload = fake.respond(self.path, headers, body, behaviour)
                if behaviour == "timeout":
                    time.sleep(fake.timeout_sleep)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.timeout_sleep = 3.0
        self.serve(Handler)

    def queue(self, *behaviours: str) -> None:
        with self.lock:
            self.behaviours.extend(behaviours)

    def respond(self, path: str, headers: dict, body: bytes, behaviour: str) -> tuple[int, dict, bytes]:
        raise NotImplementedError

    @staticmethod
    def json(status: int, data: object, **headers: str) -> tuple[int, dict, bytes]:
        return status, {"content-type": "application/json", **headers}, json.dumps(data).encode()


class FakeOpenAI(FakeServer):
    """POST /v1/chat/completions, answering a script sized to the prompt's target, with realistic usage."""

    def __init__(self, key: str = "test-key", cached_tokens: int = 0):
        super().__init__(key)
        self.cached_tokens = cached_tokens

    def respond(self, path, headers, body, behaviour):
        if not path.endswith("/chat/completions"):
            return self.json(404, {"error": {"message": "not found"}})
        if headers.get("authorization") != f"Bearer {self.key}" or behaviour == "401":
            return self.json(401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                             "code": "invalid_api_key"}})
        if behaviour == "429":
            return self.json(429, {"error": {"message": "Rate limit reached", "type": "requests"}}, **{"retry-after-ms": "10"})
        if behaviour == "503":
            return self.json(503, {"error": {"message": "The server is overloaded"}}, **{"retry-after-ms": "10"})
        request = json.loads(body)
        prompt = " ".join(m["content"] for m in request["messages"])
        target = int(re.search(r"about (\d+) spoken words", prompt)[1]) if "spoken words" in prompt else 150
        if behaviour == "invalid":
            content = '{"title": "Octopus", "hook": "unterminated'
        elif behaviour == "short":
            content = json.dumps({"title": "T", "hook": "H.", "sections": [{"heading": "A", "sentences": ["One."],
                                  "bullets": []}], "call_to_action": "C.", "description": "D", "tags": []})
        elif behaviour == "long":  # a model that ignores the target: ten times the words asked for
            content = json.dumps(self.script(10 * target))
        elif behaviour == "three":  # a model that says three sentences and stops
            content = json.dumps(self.three_sentences())
        elif behaviour == "cutoff":  # ran into max_completion_tokens: the JSON stops mid-string
            content = json.dumps(self.script(10 * target))[:2000]
        else:
            content = json.dumps(self.script(target))
        prompt_tokens = max(1, len(prompt) // 4) + 300  # the schema counts too
        completion_tokens = max(1, len(content) // 4)
        return self.json(200, {
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "length" if behaviour == "cutoff" else "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "prompt_tokens_details": {"cached_tokens": min(self.cached_tokens, prompt_tokens)}},
        })

    @staticmethod
    def script(target_words: int) -> dict:
        sentence = "Octopuses solve problems by testing one idea after another with their flexible arms."  # 13 words
        per_section = max(1, round((target_words - 16) / 13 / 3))  # the hook and call to action say 16 words
        return {"title": "Why Octopuses Are So Smart", "hook": "Why are octopuses so smart? Let us look closely.",
                "sections": [{"heading": f"Part {i}", "sentences": [sentence] * per_section,
                              "bullets": ["Testing ideas", "Flexible arms"],
                              "visuals": [f"octopus part{i}"] * per_section} for i in range(1, 4)],
                "call_to_action": "Subscribe for more questions like this one.",
                "description": "A short look at octopus intelligence.", "tags": ["octopus", "animals", "science"]}

    @staticmethod
    def three_sentences() -> dict:
        return {"title": "Why Octopuses Are So Smart", "hook": "Why are octopuses so smart?",
                "sections": [{"heading": "Problem solvers", "bullets": ["Testing ideas"], "sentences": [
                    "Octopuses solve problems by testing one idea after another with their flexible arms."]}],
                "call_to_action": "Subscribe for more questions like this one.",
                "description": "A short look at octopus intelligence.", "tags": ["octopus"]}


def spoken_pcm(words: list[str], rate: int, lead_s: float = 0.05, gap_s: float = 0.06,
               tail_s: float = 0.1) -> tuple[bytes, list[tuple[str, float, float]]]:
    """Speech-like PCM for words: each word a tone (longer words longer), silence before it (the lead, then
    a gap), a quiet noise floor throughout as real recordings have; a word with no letter or digit is not
    said. Returns the PCM and where each word's tone is (word, start s, end s), so a test can check the
    timings a voice derives from it."""
    out, layout, t = [], [], 0.0
    rng = np.random.default_rng(len(words))

    def add(seconds: float, loud: bool) -> None:
        nonlocal t
        n = int(round(seconds * rate))
        k = np.arange(n) / rate
        chunk = 0.2 * np.sin(2 * math.pi * 180 * k) if loud else np.zeros(n)
        out.append(chunk + rng.normal(0, 0.0003, n))
        t += n / rate

    for word in words:
        letters = sum(ch.isalnum() for ch in word)
        if not letters:  # a lone dash or quote: nothing to say
            layout.append((word, t, t))
            continue
        add(gap_s if layout else lead_s, False)
        start = t
        add(max(0.05, letters / 40), True)
        layout.append((word, start, t))
    add(tail_s, False)
    audio = np.concatenate(out) if out else np.zeros(0)
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes(), layout


class FakeGoogleTTS(FakeServer):
    """POST /v1beta1/text:synthesize (Cloud Text-to-Speech REST, the API with timepoints; /v1 answers too, without
    them): LINEAR16 WAV back, the 5,000-byte limit on input.text or input.ssml enforced, SSML parsed as XML.

    With ``enableTimePointing: ["SSML_MARK"]`` the answer carries ``timepoints: [{markName, timeSeconds}]``; a
    mark's time is where the silence before its word begins (the pessimistic reading: the voice must trim the
    pause itself). ``spoken`` holds each request's layout of word tones, for tests to check timings against."""

    rate = 24000

    def __init__(self, key: str = "test-key"):
        super().__init__(key)
        self.spoken: list[list[tuple[str, float, float]]] = []
        self.voices_asked: list[str] = []  # voices.list languageCode of each call

    def respond_get(self, path, headers):
        """GET /v1beta1/voices?languageCode=xx-YY: Standard and Wavenet voices for every locale, Neural2 for en
        and de only (Google's tiers do not cover every language)."""
        from urllib.parse import parse_qs, urlparse

        url = urlparse(path)
        if not url.path.startswith(("/v1beta1/voices", "/v1/voices")):
            return self.json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        if headers.get("x-goog-api-key") != self.key:
            return self.json(403, {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}})
        locale = parse_qs(url.query).get("languageCode", ["en-US"])[0]
        self.voices_asked.append(locale)
        tiers = ["Standard", "Wavenet"] + (["Neural2"] if locale.split("-")[0] in ("en", "de") else [])
        voices = [{"languageCodes": [locale], "name": f"{locale}-{t}-{letter}", "ssmlGender": "MALE",
                   "naturalSampleRateHertz": 24000} for t in tiers for letter in "BA"]
        return self.json(200, {"voices": voices})

    def respond(self, path, headers, body, behaviour):
        if not (path.startswith("/v1beta1/text:synthesize") or path.startswith("/v1/text:synthesize")):
            return self.json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        key = headers.get("x-goog-api-key")
        if key != self.key or behaviour == "403":
            return self.json(403, {"error": {"code": 403, "message": "API key not valid. Please pass a valid API key.",
                                             "status": "PERMISSION_DENIED"}})
        if behaviour == "429":
            return self.json(429, {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})
        if behaviour == "503":
            return self.json(503, {"error": {"code": 503, "message": "The service is unavailable", "status": "UNAVAILABLE"}})
        request = json.loads(body)
        given = request["input"].get("ssml") or request["input"].get("text") or ""
        if len(given.encode("utf-8")) > 5000:
            return self.json(400, {"error": {"code": 400, "message": "Either `input.text` or `input.ssml` is longer than "
                                             "the limit of 5000 bytes.", "status": "INVALID_ARGUMENT"}})
        if "ssml" in request["input"]:
            try:
                segments = self.segments(given)
            except ET.ParseError as exc:
                return self.json(400, {"error": {"code": 400, "message": f"Invalid SSML: {exc}",
                                                 "status": "INVALID_ARGUMENT"}})
        else:
            segments = [(None, given)]
        pcm, layout = spoken_pcm([w for _, text in segments for w in text.split()], self.rate)
        self.spoken.append(layout)
        answer = {"audioContent": base64.b64encode(wav_bytes(pcm, self.rate)).decode(),
                  "audioConfig": {"audioEncoding": "LINEAR16", "sampleRateHertz": self.rate}}
        pointing = request.get("enableTimePointing") or []
        if "ssml" in request["input"] and ("SSML_MARK" in pointing or 1 in pointing):
            points, said, previous_end = [], 0, 0.0
            for mark, text in segments:  # a mark is reached where the speech before it ended
                if mark is not None:
                    points.append({"markName": mark, "timeSeconds": previous_end})
                for _ in text.split():
                    previous_end = layout[said][2]
                    said += 1
            answer["timepoints"] = points
        return self.json(200, answer)

    @staticmethod
    def segments(document: str) -> list[tuple[str | None, str]]:
        """(mark name or None, the text after it) through a <speak> document, as the service reads it."""
        root = ET.fromstring(document)
        if root.tag != "speak":
            raise ET.ParseError("the root element must be <speak>")
        out = [(None, root.text or "")]
        for child in root.iter():
            if child is root:
                continue
            out.append((child.get("name") if child.tag == "mark" else None, (child.text or "") + (child.tail or "")))
        return out


class FakeElevenLabs(FakeServer):
    """POST /v1/text-to-speech/{voice_id}/with-timestamps?output_format=pcm_22050: JSON with the audio as base64
    PCM and the start and end of every character (``alignment``, ``normalized_alignment``), and a character-cost
    header. The plain POST /v1/text-to-speech/{voice_id} still answers raw PCM. ``spoken`` holds each request's
    layout of word tones."""

    rate = 22050
    char_s = 0.02  # a letter, digit or punctuation mark
    space_s = 0.04  # the silence between words

    def __init__(self, key: str = "test-key", cost_factor: float = 1.0):
        super().__init__(key)
        self.cost_factor = cost_factor
        self.spoken: list[list[tuple[str, float, float]]] = []

    def respond(self, path, headers, body, behaviour):
        if "/v1/text-to-speech/" not in path:
            return self.json(404, {"detail": "not found"})
        if headers.get("xi-api-key") != self.key or behaviour == "401":
            return self.json(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
        if behaviour == "429":
            return self.json(429, {"detail": {"status": "too_many_concurrent_requests"}})
        if behaviour == "503":
            return self.json(503, {"detail": "overloaded"})
        text = json.loads(body)["text"]
        cost = round(len(text) * self.cost_factor)
        billing = {"character-cost": str(cost), "request-id": "req-1"}
        if "/with-timestamps" not in path.split("?")[0]:
            return 200, {"content-type": "audio/pcm", **billing}, tone_pcm(0.02 + len(text) / 60, self.rate)
        pcm, alignment, layout = self.speak(text)
        self.spoken.append(layout)
        return self.json(200, {"audio_base64": base64.b64encode(pcm).decode(), "alignment": alignment,
                               "normalized_alignment": alignment}, **billing)

    def speak(self, text: str) -> tuple[bytes, dict, list[tuple[str, float, float]]]:
        """Each character in turn: letters and digits a tone, punctuation and spaces silence; times back to back."""
        out, starts, ends, layout, t = [], [], [], [], 0.0
        word, tone, begun = "", None, 0.0  # the word being said, (start, end) of its tones so far, when it began
        for ch in text + " ":
            if ch.isspace() and word:
                layout.append((word, *(tone or (begun, begun))))
                word, tone = "", None
            if not ch.isspace() and not word:
                begun = t
            if len(starts) == len(text):
                break
            n = int(round((self.space_s if ch.isspace() else self.char_s) * self.rate))
            out.append(0.2 * np.sin(2 * math.pi * 180 * np.arange(n) / self.rate) if ch.isalnum() else np.zeros(n))
            if ch.isalnum():
                tone = (tone[0] if tone else t, t + n / self.rate)
            if not ch.isspace():
                word += ch
            starts.append(round(t, 6))
            t += n / self.rate
            ends.append(round(t, 6))
        audio = np.concatenate(out) if out else np.zeros(0)
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        return pcm, {"characters": list(text), "character_start_times_seconds": starts,
                     "character_end_times_seconds": ends}, layout
