"""The workbench pages through Streamlit's AppTest."""

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("YTEMPIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(ROOT)
    from ui.state import get_workbench
    get_workbench.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    yield at
    get_workbench.clear()


def test_studio_renders_and_refuses_an_empty_topic(app):
    app.run()
    assert not app.exception
    app.button[0].click().run()
    assert any("topic is empty" in e.value for e in app.error)
