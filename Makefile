# YTEmpire: two commands.
#   make run   set up .venv, migrate the database, start the workbench on http://localhost:8501
#   make test  set up .venv and run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PORT   ?= 8501

.PHONY: run test setup fonts bench clean

setup: $(STAMP) fonts

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Fonts for every script a topic may be in: Noto Sans (Latin/Greek/Cyrillic and the core scripts), Noto Sans
# CJK, and Symbola (emoji as monochrome outlines, which libass and Pillow both draw), beside the bundled
# DejaVu. Taken from a system-wide Noto install when there is one, else from the Debian packages, which
# `apt-get download` fetches without root (about 70 MB, once): only the files below are kept.
FONTS       := $(VENV)/share/ytempire-fonts
FONTS_STAMP := $(FONTS)/.complete
FONT_DEBS   := fonts-noto-core fonts-noto-cjk fonts-symbola
FONT_NEEDED := NotoSans-Regular.ttf NotoSans-Bold.ttf NotoSansCJK-Regular.ttc NotoSansCJK-Bold.ttc Symbola_hint.ttf
FONT_SCRIPTS := Arabic Hebrew Devanagari Bengali Tamil Telugu Kannada Malayalam Gujarati Gurmukhi Oriya Sinhala \
	Thai Lao Khmer Myanmar Georgian Armenian Ethiopic Thaana Symbols
FONT_EXTRA  := $(foreach s,$(FONT_SCRIPTS),NotoSans$(s)-Regular.ttf NotoSans$(s)-Bold.ttf) NotoSansSymbols2-Regular.ttf

fonts: $(FONTS_STAMP)

$(FONTS_STAMP): | $(STAMP)
	@set -e; if [ -n "$$YTEMPIRE_FONTS_DIR" ] && [ -f "$$YTEMPIRE_FONTS_DIR/NotoSans-Regular.ttf" ]; then \
	  echo "fonts: using YTEMPIRE_FONTS_DIR=$$YTEMPIRE_FONTS_DIR"; exit 0; fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; src=/usr/share/fonts; docs=/usr/share/doc; \
	for f in $(FONT_NEEDED); do [ -n "$$(find $$src -name $$f -print -quit 2>/dev/null)" ] || src=; done; \
	if [ -z "$$src" ]; then \
	  echo "fonts: downloading $(FONT_DEBS) (Debian packages, about 70 MB)"; \
	  if (cd "$$tmp" && apt-get download $(FONT_DEBS) >"$$tmp/apt.log" 2>&1); then \
	    for deb in "$$tmp"/*.deb; do dpkg-deb -x "$$deb" "$$tmp/root"; done; src="$$tmp/root"; docs="$$tmp/root/usr/share/doc"; \
	  else cat "$$tmp/apt.log" >&2; fi; \
	fi; \
	if [ -z "$$src" ]; then \
	  echo "fonts: no Noto fonts in /usr/share/fonts and 'apt-get download $(FONT_DEBS)' failed (above)." >&2; \
	  echo "fonts: install those packages (apt-get install $(FONT_DEBS)), or put $(FONT_NEEDED)" >&2; \
	  echo "fonts: into a folder and point YTEMPIRE_FONTS_DIR at it, then run make again." >&2; exit 1; \
	fi; \
	mkdir -p $(FONTS); \
	for f in $(FONT_NEEDED) $(FONT_EXTRA); do \
	  hit=$$(find "$$src" -name $$f -print -quit 2>/dev/null); [ -z "$$hit" ] || cp "$$hit" $(FONTS)/; \
	done; \
	for f in $(FONT_NEEDED); do [ -f $(FONTS)/$$f ] || { echo "fonts: $$f is missing from $$src" >&2; exit 1; }; done; \
	for p in $(FONT_DEBS); do [ ! -f "$$docs/$$p/copyright" ] || cp "$$docs/$$p/copyright" $(FONTS)/LICENSE-$$p.txt; done; \
	cp pipeline/media/fonts/DejaVu*.ttf pipeline/media/fonts/LICENSE-DejaVu.txt $(FONTS)/; \
	touch $@; echo "fonts: $$(ls $(FONTS) | wc -l) files in $(FONTS)"

# Listens on .streamlit/config.toml's address (127.0.0.1); `make run ADDRESS=0.0.0.0` opens it to the network.
run: setup
	$(PY) -m pipeline init
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true $(if $(ADDRESS),--server.address $(ADDRESS))

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m pip install --quiet --no-deps -r bench/requirements.txt
	$(PY) bench/render.py

clean:
	rm -rf $(VENV) .pytest_cache
