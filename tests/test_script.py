import pytest

from pipeline.script import Script, Section, count_syllables, flesch_reading_ease, split_sentences, word_count


@pytest.mark.parametrize("text, expected", [
    ("One. Two! Three?", ["One.", "Two!", "Three?"]),
    ("Dr. Smith arrived. He sat down.", ["Dr. Smith arrived.", "He sat down."]),
    ("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
    ("e.g. this stays. Next one", ["e.g. this stays.", "Next one"]),
    ("She said \"stop.\" Then left.", ["She said \"stop.\"", "Then left."]),
    ("no ending punctuation", ["no ending punctuation"]),
    ("   ", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_word_count_ignores_punctuation():
    assert word_count("Octopuses — really? Yes: 500 million neurons, it's true.") == 8


@pytest.mark.parametrize("word, syllables", [("cat", 1), ("octopus", 3), ("intelligence", 4), ("smart", 1), ("the", 1)])
def test_syllables(word, syllables):
    assert count_syllables(word) == syllables


def test_reading_ease_orders_plain_above_dense():
    plain = "The cat sat on the mat. It was a warm day. We all had fun."
    dense = ("Notwithstanding considerable methodological heterogeneity, contemporary neuroethological "
             "investigations substantiate extraordinary cephalopod cognitive sophistication.")
    assert flesch_reading_ease(plain) > 80
    assert flesch_reading_ease(dense) < 10


def test_script_round_trips_and_lists_blocks(tmp_path):
    script = Script("T", "Hook one. Hook two.", [Section("A", ["a1.", "a2."]), Section("B", ["b1."])],
                    "Subscribe.", "desc", ["t"], 100, 150)
    loaded = Script.load(script.save(tmp_path / "s.json"))
    assert loaded == script
    assert [(b.key, b.sentences) for b in loaded.blocks()] == [
        ("hook", ["Hook one.", "Hook two."]), ("section-1", ["a1.", "a2."]), ("section-2", ["b1."]), ("cta", ["Subscribe."])]
    assert loaded.word_count == 8
