"""Destructive actions ask first (AppTest): deleting a channel and restoring a backup do nothing until the operator
says yes, then act; and a channel's stored colour that is not a hex colour is said, not silently swapped."""

from __future__ import annotations

import pytest
from streamlit.testing.v1.errors import AppTestError

from pipeline.channels import ChannelInput, create_channel
from test_app import open_app, problems


@pytest.fixture(autouse=True)
def release_workbench():
    yield
    from ui.state import get_workbench
    get_workbench.clear()  # closes the workbench so the next test opens its own


def button(at, label: str):
    return next(b for b in at.button if b.proto.label == label)


def channel_names(wb) -> list[str]:
    return [r[0] for r in wb.db.query("SELECT name FROM channels ORDER BY id")]


def test_deleting_a_channel_does_nothing_until_confirmed_then_deletes_it(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "channels")
    from ui.state import get_workbench
    wb = get_workbench()
    create_channel(wb.db, ChannelInput("Space Daily", niche="space"))
    at.run()
    at.selectbox(key="edit-channel").select("Space Daily").run()
    delete = at.button(key="delete-channel")
    assert delete.disabled and delete.proto.type == "primary" and delete.proto.label == "Delete Space Daily"
    with pytest.raises(AppTestError, match="disabled"):  # no one can click it yet
        at.button(key="delete-channel").click()
    at.run()
    assert "Space Daily" in channel_names(wb) and not at.success
    [sure] = [c for c in at.checkbox if c.key and c.key.startswith("delete-sure-")]
    assert sure.proto.label.startswith("Yes, delete Space Daily")
    sure.check().run()
    assert "Space Daily" in channel_names(wb)  # saying yes is not deleting
    assert not at.button(key="delete-channel").disabled
    at.button(key="delete-channel").click().run()
    assert problems(at) == []
    assert channel_names(wb) == ["Demo Channel"]
    assert any("Deleted Space Daily" in s.value for s in at.success)


def test_restoring_a_backup_does_nothing_until_confirmed_then_replaces_the_data(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "settings")
    from ui.state import get_workbench
    wb = get_workbench()
    taken = wb.export_backup()
    create_channel(wb.db, ChannelInput("Made after the backup"))
    at.run()
    restore = button(at, "Restore: replaces all data")
    assert restore.disabled and restore.proto.type == "primary"  # nothing chosen, nothing confirmed
    at.selectbox(key="restore-from-disk").select(taken.name).run()
    assert button(at, "Restore: replaces all data").disabled  # chosen, not confirmed
    sure = at.checkbox(key="restore-sure")
    assert sure.proto.label.startswith("Yes, replace all data with") and taken.name in sure.proto.label.replace("\\", "")
    sure.check().run()
    assert "Made after the backup" in channel_names(wb)  # saying yes is not restoring
    button(at, "Restore: replaces all data").click().run()
    assert problems(at) == [] and not at.error
    assert channel_names(wb) == ["Demo Channel"]
    [done] = [s.value for s in at.success if "Restored the backup of" in s.value]
    assert "00:00:00" not in done and "None" not in done and "channels" in done


def test_a_refused_upload_is_named_as_the_operator_named_it_never_a_temp_file(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", monkeypatch, "settings")
    at.file_uploader[0].upload("my backup.zip", b"not a zip at all", "application/zip").run()
    at.checkbox(key="restore-sure").check().run()
    button(at, "Restore: replaces all data").click().run()
    [error] = [e.value.replace("\\", "") for e in at.error]
    assert "my_backup.zip is not a YTEmpire backup" in error
    assert "tmp" not in error.lower() and "/" not in error


@pytest.mark.parametrize("stored, shown", [("navy", "#1E2A44"), ("1e2a45", "#1E2A45"), ("#f2b632", "#F2B632")])
def test_a_stored_colour_that_is_not_hex_is_said_not_silently_swapped(tmp_path, monkeypatch, stored, shown):
    at = open_app(tmp_path / "data", monkeypatch, "channels")
    from ui.state import get_workbench
    wb = get_workbench()
    with wb.db.write() as cur:  # as a restored backup or an old row could hold it
        cur.execute("UPDATE channels SET primary_color = ? WHERE id = 1", [stored])
    at.run()
    assert problems(at) == []  # the page renders (st.color_picker refuses anything but #RGB/#RRGGBB)
    pickers = [p for p in at.color_picker if p.label == "Primary colour" and "edit" in str(p.proto.form_id)]
    assert pickers and pickers[0].value == shown
    said = [e.value.replace("\\", "") for e in at.error if "Primary colour of this channel" in e.value]
    if stored == "navy":
        assert said and "'navy' is not a colour" in said[0] and "pick the colour you want and save" in said[0]
    else:
        assert not said  # a hex colour, merely spelled differently, is taken as it is
