"""Shared fixtures: a throwaway data directory, settings, database and workbench per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The example source that ships with the project: a local-writer video with it says something true and passes
# the gate's substance check (one with no outline and no sources is held).
EXAMPLE_SOURCE = str(ROOT / "data" / "examples" / "octopus.md")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["YTEMPIRE_BOOTSTRAP_TRENDS"] = "0"  # tests that need trend data load their own small slice

from pipeline.config import Settings  # noqa: E402
from pipeline.db import open_database  # noqa: E402

pytest_plugins = ["fakes_media", "fakes_youtube"]  # the fakes' fixtures: media, pexels, pixabay; yt


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", workers=2, retry_base_s=0.01, poll_s=0.05)


@pytest.fixture
def db(settings: Settings):
    settings.prepare_data_dir()
    database = open_database(settings.db_path)
    yield database
    database.close()


@pytest.fixture
def workbench(settings: Settings):
    from pipeline.workbench import Workbench

    wb = Workbench(settings, start_worker=False)
    yield wb
    wb.close()


# -- signing in (AppTest cannot send cookies: the gate also reads a real session's cookie from session state) --
OWNER_EMAIL = "owner@example.com"
PASSWORD = "correct horse battery staple 42"


def sign_in_as(wb, role: str = "owner", email: str | None = None, workspace_id: int | None = None) -> str:
    """A real session cookie for an account of ``role`` (created when missing; the owner first)."""
    from pipeline.access.actor import SYSTEM

    access = getattr(wb.access, "_desk", wb.access)
    if access.needs_owner():
        access.create_owner(OWNER_EMAIL, "Olivia Owner", PASSWORD, client="test")
    email = email or (OWNER_EMAIL if role == "owner" else f"{role}@example.com")
    if access.user(email) is None:
        token = access.invite(SYSTEM, email, role, workspace_id or 1, name=role.title())
        access.accept(token, f"{role.title()} Person", PASSWORD, client="test")
    return access.sign_in(email, PASSWORD, client="test").cookie


def app_test(timeout: float = 60, role: str = "owner", email: str | None = None, workspace_id: int | None = None):
    """An AppTest of app.py signed in as ``role`` (the data directory comes from YTEMPIRE_DATA_DIR)."""
    from streamlit.testing.v1 import AppTest

    from ui.state import shared_workbench

    cookie = sign_in_as(shared_workbench(), role, email, workspace_id)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.session_state["ytempire_session_cookie"] = cookie
    return at
