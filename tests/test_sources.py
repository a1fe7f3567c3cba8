"""Loading the operator's sources: each loader, its limits and errors, and the candidate sentences.

Web pages are served by a loopback http.server; nothing leaves the machine.
"""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline import sources
from pipeline.providers.base import BriefError
from pipeline.sources import (SourceDoc, SourceError, SourceFetchError, SourceLimitError, SourceTextError, TextIndex,
                              UnsupportedSource, candidates, load_sources, markdown_to_text, trim)

FIXTURES = Path(__file__).parent / "fixtures"
ARTICLE = FIXTURES / "article.html"
EXAMPLE = Path(__file__).parents[1] / "data" / "examples" / "octopus.md"


def minimal_pdf(lines: list[str], title: str = "Bee notes") -> bytes:
    """A one-page PDF with a real text layer (Helvetica), its cross-reference offsets computed."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td"]
    for i, line in enumerate(lines):
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops += ([] if i == 0 else ["0 -16 Td"]) + [f"({escaped}) Tj"]
    stream = "\n".join(ops + ["ET"]).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (" + title.encode("latin-1") + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- files ---------------------------------------------------------------------------------------

def test_a_text_file_becomes_one_paragraph_per_line(tmp_path):
    path = tmp_path / "bees.txt"
    path.write_text("Honeybees live in colonies\nwith a single queen.\n\n\nWorkers are female and drones are male.\n",
                    encoding="utf-8")
    (doc,) = load_sources([str(path)])
    assert (doc.id, doc.kind, doc.title, doc.location) == ("S1", "file", "bees", str(path))
    assert doc.text == "Honeybees live in colonies with a single queen.\nWorkers are female and drones are male."


def test_markdown_is_prose_with_headings_kept_as_section_hints():
    (doc,) = load_sources([str(FIXTURES / "notes.md")])
    lines = doc.text.splitlines()
    assert doc.title == "Bee notes"
    assert "Colony size" in lines  # a heading, on its own line, without end punctuation
    assert "Honeybees keep the brood nest close to 35 degrees Celsius all year round, see the survey." in doc.text
    assert "A strong summer colony can hold tens of thousands of workers." in lines
    assert "A queen can lay more than a thousand eggs a day in early summer." in lines
    for gone in ("**", "https://", "print(", "Caste", "layout:", "```", "|"):
        assert gone not in doc.text


def test_markdown_inline_marks_are_stripped():
    text = markdown_to_text("Some *emphasis*, __strong__, `code`, ![img](a.png) and a [link](http://x.y) here.[^1]")
    assert text == "Some emphasis, strong, code, and a link here."


def test_an_html_page_gives_its_main_text_and_title():
    (doc,) = load_sources([str(ARTICLE)])
    assert doc.title.startswith("How honeybees communicate")
    assert "performs a waggle dance on the vertical surface of the comb" in doc.text
    assert "The waggle dance" in doc.text.splitlines()
    for junk in ("cookies", "Sign in", "All rights reserved", "Privacy policy", "Related posts", "ISBN"):
        assert junk not in doc.text, junk


def test_a_pdf_text_layer_is_read(tmp_path):
    path = tmp_path / "notes.pdf"
    path.write_bytes(minimal_pdf(["Honeybees keep their brood nest close to thirty five degrees all year round.",
                                  "They warm it by shivering their flight muscles, and cool it by fanning water."]))
    (doc,) = load_sources([str(path)])
    assert doc.title == "Bee notes" and doc.kind == "file"
    assert "shivering their flight muscles" in doc.text
    assert "Honeybees keep their brood nest" in doc.text


def test_a_pdf_without_text_says_to_paste_it(tmp_path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf([""]))
    with pytest.raises(SourceTextError, match="scanned PDF.*paste its text"):
        load_sources([str(path)])
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(SourceTextError, match="broken.pdf"):
        load_sources([str(broken)])


def test_pasted_text_comes_first_and_specs_follow_in_order():
    docs = load_sources([str(ARTICLE), str(EXAMPLE), str(ARTICLE)], pasted="Octopuses have three hearts. " * 10)
    assert [(d.id, d.kind) for d in docs] == [("S1", "text"), ("S2", "file"), ("S3", "file")]  # the repeat is loaded once
    assert docs[0].location == "" and docs[0].label == "pasted text"


def test_sources_round_trip_through_json():
    docs = load_sources([str(ARTICLE)], pasted="A pasted note about bees and the flowers they visit in summer, "
                                               "long enough to count as a source.")
    again = [SourceDoc.from_dict(d) for d in json.loads(json.dumps([d.to_dict() for d in docs]))]
    assert again == docs
    assert docs[1].reference() == {"id": "S2", "title": docs[1].title, "kind": "file", "location": str(ARTICLE)}


# -- limits and errors ---------------------------------------------------------------------------

def test_errors_are_typed_and_say_what_to_fix(tmp_path):
    assert issubclass(SourceError, BriefError)  # the edges already show a BriefError's message
    with pytest.raises(SourceError, match="no such file.*http"):
        load_sources([str(tmp_path / "missing.md")])
    (tmp_path / "slides.pptx").write_bytes(b"x" * 100)
    with pytest.raises(UnsupportedSource, match=r"'\.pptx'.*\.pdf"):
        load_sources([str(tmp_path / "slides.pptx")])
    with pytest.raises(UnsupportedSource, match="only http:// and https://"):
        load_sources(["ftp://example.org/notes.txt"])
    with pytest.raises(SourceError, match="not a file"):
        load_sources([str(tmp_path)])
    (tmp_path / "tiny.txt").write_text("Too short.", encoding="utf-8")
    with pytest.raises(SourceTextError, match="almost no readable text"):
        load_sources([str(tmp_path / "tiny.txt")])


def test_limits_on_count_and_size(tmp_path, monkeypatch):
    with pytest.raises(SourceLimitError, match="11 sources.*limit is 10"):
        load_sources([f"{tmp_path}/f{i}.txt" for i in range(11)])
    with pytest.raises(SourceLimitError, match="200,000"):
        load_sources([], pasted="word " * 50_000)
    big = tmp_path / "big.txt"
    big.write_text("Bees visit flowers. " * 12_000, encoding="utf-8")  # 240,000 characters of text
    with pytest.raises(SourceLimitError, match="big.txt.*limit is 200,000"):
        load_sources([str(big)])
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 1000)
    with pytest.raises(SourceLimitError, match="big.txt is 0.2 MB"):
        load_sources([str(big)])


# -- URLs ----------------------------------------------------------------------------------------

@pytest.fixture
def site():
    """A loopback web server: /article (the fixture page), /notes.txt, /missing (404), /huge."""
    pages = {"/article": ("text/html; charset=utf-8", ARTICLE.read_bytes()),
             "/notes.txt": ("text/plain", b"Honeybees can see ultraviolet light but not red, and they find flowers "
                                          b"by colour and by scent.\n")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path == "/huge":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                try:
                    for _ in range(40):
                        self.wfile.write(b"b" * 65536)
                except OSError:  # the client stopped reading at its cap, as it should
                    pass
                return
            if self.path not in pages:
                self.send_error(404)
                return
            kind, body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_is_fetched_and_its_main_text_extracted(site):
    page, text = load_sources([f"{site}/article", f"{site}/notes.txt"], allow_private=True)  # loopback, allowed
    assert (page.kind, page.location) == ("url", f"{site}/article")
    assert page.title.startswith("How honeybees communicate") and "waggle dance" in page.text
    assert "cookies" not in page.text
    assert text.kind == "url" and "ultraviolet light" in text.text and page.label == f"{site}/article"


def test_url_failures_name_the_url(site, monkeypatch):
    with pytest.raises(SourceFetchError, match=rf"{site}/missing answered HTTP 404"):
        load_sources([f"{site}/missing"], allow_private=True)
    monkeypatch.setattr(sources, "MAX_URL_BYTES", 1_000_000)
    with pytest.raises(SourceLimitError, match=rf"{site}/huge sent more than"):
        load_sources([f"{site}/huge"], allow_private=True)


def test_an_offline_or_unreachable_url_is_a_clear_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/page"
    with pytest.raises(SourceFetchError, match=rf"Could not fetch {url}.*online.*add it as a file"):
        load_sources([url], timeout_s=2, allow_private=True)
    with pytest.raises(SourceFetchError, match=rf"{url}: this workbench is offline"):
        load_sources([url], offline=True)


def test_a_url_on_a_private_address_is_refused_unless_the_owner_allows_it(site):
    for url in (f"{site}/article", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/wiki"):
        with pytest.raises(SourceFetchError, match=r"private address .*YTEMPIRE_SOURCES_ALLOW_PRIVATE=1"):
            load_sources([url])  # refused before any connection is made
    (page,) = load_sources([f"{site}/article"], allow_private=True)
    assert "waggle dance" in page.text


# -- candidate sentences and containment ---------------------------------------------------------

def test_candidates_leave_out_junk_and_trim_lightly():
    doc = SourceDoc("S1", "t", "text", "", "\n".join([
        "Bees and flowers",
        "However, bees can see ultraviolet light [3]. Have you ever seen a bee up close? Click here to subscribe now.",
        "The queen (a large female) lays the eggs of the colony. It can lay a great many of them each day.",
        "Short one. Imagine being a bee in a hive full of sisters and brothers.",
    ]))
    found = candidates(doc)
    assert [c.text for c in found] == ["Bees can see ultraviolet light.", "The queen lays the eggs of the colony.",
                                       "It can lay a great many of them each day."]
    assert [c.needs_previous for c in found] == [False, False, True]
    assert {c.heading for c in found} == {"Bees and flowers"}
    assert trim("And so the bees dance") == "So the bees dance."


def test_containment_accepts_a_light_trim_and_rejects_a_paraphrase():
    index = TextIndex("The common octopus (Octopus vulgaris) has about five hundred million neurons [4] in all.")
    assert index.containment("The common octopus has about five hundred million neurons in all.") >= 0.75
    assert index.containment("About half a billion nerve cells fill the body of the octopus.") < 0.3


def test_the_bundled_example_is_a_usable_source():
    (doc,) = load_sources([str(EXAMPLE)])
    assert doc.title.startswith("Octopuses") and "YTEmpire" not in doc.text  # the note about the file is left out
    assert 400 <= len(doc.text.split()) <= 700
    assert len(candidates(doc)) >= 25


def test_an_llm_writer_is_grounded_in_the_sources_within_a_bounded_prompt(settings):
    from pipeline.providers.base import Brief
    from pipeline.providers.openai_writer import MAX_GROUNDING_CHARS, OpenAIWriter, grounding, grounding_words

    long = SourceDoc("S2", "Long", "text", "", "\n".join(f"Line {i} about bees and their dances." for i in range(20_000)))
    docs = load_sources([str(ARTICLE)]) + [long]
    text = grounding(docs)
    assert text.startswith("[S1] How honeybees communicate (article.html)\n")
    assert "[S2] Long (pasted text)\nLine 0 about bees" in text and text.endswith("[...]")
    assert len(text) <= MAX_GROUNDING_CHARS + 200 and 0 < grounding_words(docs) < MAX_GROUNDING_CHARS / 4
    messages = OpenAIWriter("gpt-4.1-mini", settings)._messages(Brief("How honeybees communicate", 60, sources=docs), 130)
    assert "State only facts found in the outline or these sources" in messages[1]["content"]
    assert "waggle dance" in messages[1]["content"]
    plain = OpenAIWriter("gpt-4.1-mini", settings)._messages(Brief("How honeybees communicate", 60), 130)
    assert "sources" not in plain[1]["content"]
