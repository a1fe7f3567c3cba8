"""Scripts from OpenAI or any OpenAI-compatible server (Ollama, vLLM, llama.cpp's server).

The script is asked for as JSON under a JSON schema, validated here, and asked for once
more (with what was wrong) when the model's answer does not hold, or (with how many words it
wrote and how many are needed) when its narration is off the target by more than
``fit.TOLERANCE``. Whatever is still off after those two calls is trimmed or padded here
(:func:`pipeline.fit.fit_script`), so the voice is never paid to speak a script that does not
fit the video. Every call's prompt, cached and completion tokens are returned as Usage, failed
answers included: they were billed.
"""

from __future__ import annotations

import json
import time

from pipeline.config import Settings
from pipeline.costs import Usage
from pipeline.fit import estimated_narration_s, fit_script, fits, framing, sized_words
from pipeline.providers.base import Brief, ProviderError, TransientError
from pipeline.providers.local_writer import check_brief, title_case, topic_phrase
from pipeline.script import Script, Section, split_sentences, word_count

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "hook", "sections", "call_to_action", "description", "tags"],
    "properties": {
        "title": {"type": "string", "description": "At most 100 characters."},
        "hook": {"type": "string", "description": "One to three sentences that open the video."},
        "sections": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["heading", "sentences", "bullets", "visuals"],
            "properties": {"heading": {"type": "string"},
                           "sentences": {"type": "array", "items": {"type": "string"}},
                           "bullets": {"type": "array", "items": {"type": "string"},
                                       "description": "Two to four short lines for the slide."},
                           "visuals": {"type": "array", "items": {"type": "string"},
                                       "description": "One stock-footage search per sentence, in the same order: "
                                                      "1-3 concrete, filmable English words that keep the video's "
                                                      "main subject in view (e.g. 'octopus jar', not 'intelligence')."}}}},
        "call_to_action": {"type": "string"},
        "description": {"type": "string", "description": "The YouTube description, at most 4,500 characters."},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}

SYSTEM = ("You write narration scripts for faceless educational YouTube videos. Write plain spoken English in short "
          "sentences. State only facts you are confident are true and widely documented; never invent numbers, quotes, "
          "studies or names. When the operator gives an outline, it is the substance: keep its points and their order. "
          "Answer with JSON only, matching the schema.")


# The operator's sources as sent in the prompt: about 6,000 tokens at most, shared between them, so a
# long source never makes a prompt the budget guard did not allow for (grounding_words says how much).
MAX_GROUNDING_CHARS = 24_000


def grounding(sources: list) -> str:
    """The sources as the prompt gives them: "[S1] title (where)" then the start of its text, cut at a
    line; each gets an equal share of :data:`MAX_GROUNDING_CHARS`."""
    from pipeline.sources import SourceDoc

    docs = [d if isinstance(d, SourceDoc) else SourceDoc.from_dict(d) for d in sources or []]
    if not docs:
        return ""
    share = MAX_GROUNDING_CHARS // len(docs)
    blocks = []
    for d in docs:
        text = d.text if len(d.text) <= share else d.text[:share].rsplit("\n", 1)[0] + "\n[...]"
        blocks.append(f"[{d.id}] {d.title} ({d.label})\n{text}")
    return "\n\n".join(blocks)


def grounding_words(sources: list) -> int:
    """Words the sources add to the prompt (for ``estimate``'s ``outline_words``)."""
    return word_count(grounding(sources))


# Under this share of the words needed, an answer has nothing worth fitting: it is asked for again.
MIN_WORDS_SHARE = 0.1
CHARS_PER_TOKEN = 4  # English text and JSON, roughly; bounds what is resent to what the guard allowed for
RESEND_HEADROOM_TOKENS = 150  # the correction or complaint sent after the resent answer


class InvalidScript(ValueError):
    pass


def validate_script(data: object, target_words: int) -> dict:
    """Check the model's JSON; returns it or raises InvalidScript saying what is wrong."""
    if not isinstance(data, dict):
        raise InvalidScript("the answer is not a JSON object")
    missing = [k for k in SCHEMA["required"] if k not in data]
    if missing:
        raise InvalidScript(f"missing fields: {', '.join(missing)}")
    if not isinstance(data["sections"], list) or not data["sections"]:
        raise InvalidScript("'sections' must be a non-empty list")
    for i, s in enumerate(data["sections"]):
        if not isinstance(s, dict) or not isinstance(s.get("sentences"), list) or not s.get("heading"):
            raise InvalidScript(f"section {i + 1} needs a heading and a list of sentences")
    if not all(isinstance(data[k], str) and data[k].strip() for k in ("title", "hook", "call_to_action")):
        raise InvalidScript("title, hook and call_to_action must be non-empty strings")
    words = word_count(" ".join([data["hook"], data["call_to_action"],
                                 *(x for s in data["sections"] for x in s["sentences"] if isinstance(x, str))]))
    if words < MIN_WORDS_SHARE * target_words:  # a short script that says something is padded instead
        raise InvalidScript(f"the script has {words} words; about {target_words} are needed")
    return data


class OpenAIWriter:
    name = "openai"

    def __init__(self, model: str, settings: Settings):
        self.model = model
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings, variant: str | None = None) -> OpenAIWriter:
        return cls(variant or "gpt-4.1-mini", settings)

    @staticmethod
    def check(settings: Settings) -> str | None:
        if settings.openai_api_key is None and not settings.openai_base_url:
            return "OPENAI_API_KEY is not set (or set OPENAI_BASE_URL to a local OpenAI-compatible server)"
        return None

    def _client(self):
        import openai

        key = self.settings.openai_api_key.get_secret_value() if self.settings.openai_api_key else "not-needed"
        return openai.OpenAI(api_key=key, base_url=self.settings.openai_base_url or None,
                             timeout=self.settings.request_timeout_s, max_retries=self.settings.provider_retries)

    @staticmethod
    def completion_tokens(words: int) -> int:
        return int(words * 1.45) + 250  # ~1.33 tokens a word, plus the JSON around it and the description

    def estimate(self, duration_s: float, words: int, outline_words: int = 0) -> list[Usage]:
        """The worst case the guard must allow for: the answer, and one more try that resends it."""
        prompt = 450 + int(1.4 * outline_words)  # the instructions, the schema and the operator's material
        completion = self.completion_tokens(words)
        return [Usage(self.name, self.model, "input_tokens", float(2 * prompt + completion)),
                Usage(self.name, self.model, "output_tokens", float(2 * int(completion * 1.3)))]

    def _messages(self, brief: Brief, target_words: int) -> list[dict]:
        parts = [f"Topic: {brief.topic}", f"Target length: about {target_words} spoken words "
                 f"({brief.duration_s:g} seconds at {brief.words_per_minute:g} words a minute), "
                 f"in {max(2, round(brief.duration_s / 30))} to {max(3, round(brief.duration_s / 20))} sections."]
        if brief.channel_name:
            parts.append(f"Channel: {brief.channel_name}" + (f" (about {brief.niche})" if brief.niche else ""))
        if brief.related_titles:
            parts.append("Videos trending on this topic:\n" + "\n".join(f"- {t}" for t in brief.related_titles[:10]))
        if brief.tags:
            parts.append("Tags viewers use: " + ", ".join(brief.tags[:15]))
        if brief.outline.strip():
            parts.append("Operator's outline (the substance; keep it):\n" + brief.outline.strip())
        if brief.sources:
            parts.append("Operator's sources. State only facts found in the outline or these sources; where they "
                         "are silent, frame the question rather than fill the gap from memory:\n\n"
                         + grounding(brief.sources))
        if brief.format == "shorts":
            parts.append("This is a YouTube Short: vertical, fast, one idea.")
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]

    def _usage(self, response, started: float) -> list[Usage]:
        u = response.usage
        if u is None:
            return []
        cached = getattr(getattr(u, "prompt_tokens_details", None), "cached_tokens", 0) or 0
        usage = [Usage(self.name, self.model, "input_tokens", float(u.prompt_tokens - cached), time.perf_counter() - started),
                 Usage(self.name, self.model, "output_tokens", float(u.completion_tokens))]
        if cached:
            usage.append(Usage(self.name, self.model, "cached_input_tokens", float(cached)))
        return usage

    def write(self, brief: Brief) -> tuple[Script, list[Usage]]:
        """A script for the brief, fitted to its duration, and the usage of every call made for it.

        At most two billed calls, as :meth:`estimate` allows for: the answer, then either one more
        try when it is unusable or one corrective request when its narration is off the target.
        """
        topic = check_brief(brief)
        target = sized_words(brief.duration_s, brief.words_per_minute, max(2, round(brief.duration_s / 25)))
        messages = self._messages(brief, target)
        client = self._client()
        usage: list[Usage] = []
        best: Script | None = None
        problem = ""
        for attempt in range(2):
            try:
                text, cut_off = self._complete(client, messages, target, usage)
            except ProviderError as exc:
                if best is None:
                    raise
                best.notes.append(f"the request to correct the length failed ({exc}): fitted here instead")
                break
            try:
                script = self._script(validate_script(json.loads(text), target), brief, target)
            except (json.JSONDecodeError, InvalidScript) as exc:
                problem = str(exc) if isinstance(exc, InvalidScript) else f"not valid JSON ({exc.msg})"
                if cut_off:  # the JSON broke because the answer ran past the token limit: far too long
                    problem = f"it was cut off at the length limit; about {target} words are needed"
                if best is not None:  # the correction was unusable: the first answer is still good
                    best.notes.append(f"the corrected answer was unusable ({problem}): fitted here instead")
                    break
                messages = messages + [{"role": "assistant", "content": self._resent(text, target)},
                                       {"role": "user", "content": f"That answer is unusable: {problem}. "
                                                                   "Answer again with JSON matching the schema."}]
                continue
            if best is None or self._off_by(script, brief) < self._off_by(best, brief):
                best = script
            if attempt == 1 or fits(estimated_narration_s(best), brief.duration_s):
                break
            messages = messages + self._correction(text, script, brief, target)
        if best is None:
            raise self._error(ProviderError, f"{self.model} returned an unusable script twice ({problem})", usage)
        return fit_script(best, brief.duration_s, framing(topic_phrase(topic))), usage

    def _complete(self, client, messages: list[dict], target: int, usage: list[Usage]) -> tuple[str, bool]:
        """One billed call: (the answer, whether it was cut off at the token limit). Its usage is appended
        to ``usage``; a failure carries all the usage so far."""
        import openai

        started = time.perf_counter()
        try:
            response = client.chat.completions.create(
                model=self.model, messages=messages, temperature=0.6,
                max_completion_tokens=int(self.completion_tokens(target) * 1.3),  # what the guard allowed for
                response_format={"type": "json_schema", "json_schema": {"name": "script", "strict": True,
                                                                        "schema": SCHEMA}})
        except openai.AuthenticationError as exc:
            raise self._error(ProviderError, "the API key was rejected: check OPENAI_API_KEY", usage) from exc
        except openai.PermissionDeniedError as exc:
            raise self._error(ProviderError, f"this key may not use {self.model}", usage) from exc
        except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                openai.APIConnectionError) as exc:
            kind = type(exc).__name__.replace("Error", "")
            raise self._error(TransientError, f"{kind} after {self.settings.provider_retries} retries: {exc}", usage) from exc
        except openai.APIStatusError as exc:
            raise self._error(ProviderError, f"the server refused the request ({exc.status_code}): {exc}", usage) from exc
        usage += self._usage(response, started)
        choice = response.choices[0]
        return choice.message.content or "", choice.finish_reason == "length"

    def _resent(self, text: str, target: int) -> str:
        """The model's answer as resent with the next request, cut to what :meth:`estimate` allows for
        (one answer's worth of input tokens, less room for the request that follows it)."""
        return text[:CHARS_PER_TOKEN * max(self.completion_tokens(target) - RESEND_HEADROOM_TOKENS, 0)]

    @staticmethod
    def _off_by(script: Script, brief: Brief) -> float:
        return abs(estimated_narration_s(script) - brief.duration_s)

    def _correction(self, text: str, script: Script, brief: Brief, target: int) -> list[dict]:
        """The corrective request: how many words the model wrote, how many are needed, and to keep the structure."""
        seconds = estimated_narration_s(script)
        if seconds > brief.duration_s:
            how = "Shorten it by cutting sentences within its sections"
        else:
            how = ("Lengthen it by adding sentences within its sections, stating only facts you are confident "
                   "are true")
        return [{"role": "assistant", "content": self._resent(text, target)},
                {"role": "user", "content": f"That script has {script.word_count} spoken words, about {seconds:.0f} "
                                            f"seconds of narration, but this {brief.duration_s:g}-second video needs "
                                            f"about {target} words. {how}, to about {target} words. Keep its "
                                            "structure: the same title, sections and order. Answer again with JSON "
                                            "matching the schema."}]

    def _error(self, kind: type[ProviderError], message: str, usage: list[Usage]) -> ProviderError:
        exc = kind(message, provider=self.name)
        exc.usage = list(usage)  # type: ignore[attr-defined]  # billed even though it failed
        return exc

    def _script(self, data: dict, brief: Brief, target: int) -> Script:
        sections = []
        for s in data["sections"]:
            raw_visuals = s.get("visuals") if isinstance(s.get("visuals"), list) else []
            sentences, visuals = [], []
            for k, raw in enumerate(s["sentences"]):
                if not isinstance(raw, str):
                    continue
                query = raw_visuals[k] if k < len(raw_visuals) and isinstance(raw_visuals[k], str) else ""
                for x in split_sentences(raw):  # a sentence the model ran together keeps its query for each part
                    sentences.append(x.strip())
                    visuals.append(" ".join(query.split()[:3])[:60])
            if sentences:
                bullets = [b.strip()[:80] for b in s.get("bullets", []) if isinstance(b, str) and b.strip()][:4]
                sections.append(Section(s["heading"].strip()[:80], sentences, bullets,
                                        visuals if any(visuals) else []))
        title = data["title"].strip()[:100] or title_case(brief.topic)[:100]
        if brief.format == "shorts" and "#shorts" not in title.lower():
            title = f"{title[:90]} #Shorts"
        tags, total = [], 0
        for tag in data.get("tags", []):
            tag = str(tag).strip()[:100]
            if tag and total + len(tag) + 1 <= 450:
                tags.append(tag)
                total += len(tag) + 1
        description = data["description"].strip()[:4500]
        if "synthetic" not in description.lower():
            description += "\n\nNarration and visuals in this video were produced with automated tools (synthetic voice)."
        return Script(title=title, hook=data["hook"].strip(), sections=sections, call_to_action=data["call_to_action"].strip(),
                      description=description, tags=tags[:20], target_words=target, words_per_minute=brief.words_per_minute,
                      sources=[f"topic: {brief.topic}", f"written by {self.model}"], writer=f"openai:{self.model}")
