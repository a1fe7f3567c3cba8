"""Accounts, sessions, throttling, invitations, roles and workspace isolation in the engine and the CLI."""

from __future__ import annotations

import inspect
import io
from datetime import timedelta

import polars as pl
import pytest

from conftest import EXAMPLE_SOURCE, PASSWORD
from pipeline import cli, queries
from pipeline.access.accounts import AccessError, Throttled, now
from pipeline.access.actor import SYSTEM, Forbidden, NotInWorkspace
from pipeline.channels import ChannelError, ChannelInput
from pipeline.config import Settings
from pipeline.workbench import VideoRequest, Workbench


@pytest.fixture
def wb(tmp_path):
    with Workbench(Settings(data_dir=tmp_path / "data"), start_worker=False) as bench:
        yield bench


def owner(wb):
    wb.access.create_owner("owner@example.com", "Olivia Owner", PASSWORD, client="test")
    return wb.access.actor_for(wb.access.user("owner@example.com"), "test")


def member(wb, role: str, workspace: int, email: str | None = None):
    email = email or f"{role}{workspace}@example.com"
    token = wb.access.invite(SYSTEM, email, role, workspace, name=role)
    wb.access.accept(token, f"{role} {workspace}", PASSWORD, client="test")
    return wb.access.actor_for(wb.access.user(email), "test")


# -- accounts and passwords ------------------------------------------------------------------------
def test_the_first_account_is_the_owner_and_there_is_no_second_first(wb):
    assert wb.access.needs_owner()
    for bad, why in [("short pass", "at least 12"), ("peanutbutter", "common"), ("owner@example.com1", "email")]:
        with pytest.raises(AccessError, match=why):
            wb.access.create_owner("owner@example.com", "Olivia", bad)
    assert wb.access.needs_owner()  # nothing half-made
    result = owner(wb)
    stored = wb.db.query_one("SELECT password_hash FROM users WHERE email = 'owner@example.com'")[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert result.role == "owner" and not wb.access.needs_owner()
    with pytest.raises(AccessError, match="already has an owner"):
        wb.access.create_owner("second@example.com", "Sam", PASSWORD)


# -- sessions -------------------------------------------------------------------------------------
def test_a_session_survives_a_restart_and_a_tampered_or_expired_cookie_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    with Workbench(settings, start_worker=False) as wb:
        owner(wb)
        cookie = wb.access.sign_in("owner@example.com", PASSWORD, "test").cookie
        token = cookie.split(".")[0]
        stored = [r[0] for r in wb.db.query("SELECT token_hash FROM sessions")]
        assert token not in stored and all(token not in s for s in stored)  # only a hash is kept
    with Workbench(settings, start_worker=False) as wb:  # a server restart
        assert wb.access.session_user(cookie)["email"] == "owner@example.com"
        token, mac = cookie.split(".")
        flipped = ("A" if token[0] != "A" else "B") + token[1:]
        for forged in [f"{flipped}.{mac}", f"{token}.{mac[:-1]}0", token, f"{token}.{mac}.x", "", "x" * 500]:
            assert wb.access.session_user(forged) is None, forged
        with wb.db.write() as cur:
            cur.execute("UPDATE sessions SET expires_at = ?", [now() - timedelta(seconds=1)])
        assert wb.access.session_user(cookie) is None


def test_signing_out_ends_every_session_of_the_account(wb):
    owner(wb)
    a = wb.access.sign_in("owner@example.com", PASSWORD, "laptop").cookie
    b = wb.access.sign_in("owner@example.com", PASSWORD, "phone").cookie
    assert wb.access.sign_out(a, everywhere=True)
    assert wb.access.session_user(a) is None and wb.access.session_user(b) is None
    c = wb.access.sign_in("owner@example.com", PASSWORD, "laptop").cookie
    d = wb.access.sign_in("owner@example.com", PASSWORD, "phone").cookie
    wb.access.sign_out(c, everywhere=False)
    assert wb.access.session_user(c) is None and wb.access.session_user(d) is not None


# -- throttling -----------------------------------------------------------------------------------
def test_failed_sign_ins_are_throttled_per_account_and_per_client_with_growing_delays(wb):
    owner(wb)
    for _ in range(3):
        with pytest.raises(AccessError, match="do not match"):
            wb.access.sign_in("owner@example.com", "wrong password!!", "attacker")
    with pytest.raises(Throttled) as first:  # the 4th try waits, even with the right password
        wb.access.sign_in("owner@example.com", PASSWORD, "elsewhere")
    assert first.value.wait_s >= 1
    with wb.db.write() as cur:  # time passes: the wait is over, one more failure doubles it
        cur.execute("UPDATE sign_in_failures SET at_time = at_time - INTERVAL 10 SECOND")
    with pytest.raises(AccessError):
        wb.access.sign_in("owner@example.com", "wrong again!!!", "attacker")
    with pytest.raises(Throttled) as second:
        wb.access.sign_in("owner@example.com", PASSWORD, "elsewhere")
    assert second.value.wait_s >= 2 > first.value.wait_s - 1
    # One client trying many accounts is throttled too (unknown accounts count).
    for n in range(3):
        with pytest.raises(AccessError):
            wb.access.sign_in(f"nobody{n}@example.com", "whatever whatever", "sprayer")
    assert wb.access.throttle_wait("someone@example.com", "sprayer") > 0
    assert wb.access.throttle_wait("someone@example.com", "friendly") == 0
    with wb.db.write() as cur:
        cur.execute("UPDATE sign_in_failures SET at_time = at_time - INTERVAL 1 HOUR")
    wb.access.sign_in("owner@example.com", PASSWORD, "elsewhere")  # success clears the account's count
    assert wb.access.throttle_wait("owner@example.com", "elsewhere") == 0
    actions = [r[0] for r in wb.db.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions.count("sign_in.failed") == 7 and "sign_in.throttled" in actions and actions[-1] == "sign_in"


# -- invitations ----------------------------------------------------------------------------------
def test_an_invitation_works_once_expires_and_lands_in_its_workspace(wb):
    boss = owner(wb)
    ws = wb.access.create_workspace(boss, "Acme Shorts")
    token = wb.access.invite(boss, "Beta@Example.com", "operator", ws, "Bea")
    assert wb.db.query_one("SELECT count(*) FROM invitations WHERE token_hash = ?", [token])[0] == 0  # hashed
    assert wb.access.invitation(token)["email"] == "beta@example.com"
    with pytest.raises(AccessError, match="common"):
        wb.access.accept(token, "Bea", "peanutbutter")
    signed = wb.access.accept(token, "Bea", PASSWORD, "test")  # a refused password did not use it up
    bea = wb.access.actor_for(signed.user)
    assert bea.role == "operator" and bea.workspace_id == ws and bea.workspaces == {ws}
    with pytest.raises(AccessError, match="already used"):
        wb.access.accept(token, "Eve", PASSWORD)
    late = wb.access.invite(boss, "late@example.com", "analyst", ws)
    with wb.db.write() as cur:
        cur.execute("UPDATE invitations SET expires_at = ? WHERE email = 'late@example.com'",
                    [now() - timedelta(minutes=1)])
    with pytest.raises(AccessError, match="expired"):
        wb.access.accept(late, "Lee", PASSWORD)
    old = wb.access.invite(boss, "twice@example.com", "analyst", ws)
    wb.access.invite(boss, "twice@example.com", "analyst", ws)  # a new link replaces the old
    with pytest.raises(AccessError, match="replaced"):
        wb.access.invitation(old)
    with pytest.raises(AccessError, match="already has an account"):
        wb.access.invite(boss, "beta@example.com", "operator", ws)
    with pytest.raises(Forbidden):
        wb.access.invite(bea, "friend@example.com", "operator", ws)
    with pytest.raises(AccessError, match="not valid"):
        wb.access.invitation("made-up")


def test_single_sign_on_matches_invited_accounts_by_verified_email_only(wb):
    boss = owner(wb)
    ws = wb.access.create_workspace(boss, "SSO Co")
    wb.access.invite(boss, "sso@example.com", "analyst", ws)
    assert wb.access.sso_user({"email": "sso@example.com", "email_verified": False}) is None
    assert wb.access.sso_user({"email": "stranger@example.com", "email_verified": True}) is None
    user = wb.access.sso_user({"email": "SSO@example.com", "email_verified": True, "name": "Sol"})
    assert user["role"] == "analyst" and user["workspace_id"] == ws and user["password_hash"] is None
    assert wb.access.sso_user({"email": "sso@example.com", "email_verified": True})["id"] == user["id"]
    wb.access.sign_out_user(user["id"])  # "everywhere": an identity issued before is refused
    import time
    assert wb.access.sso_user({"email": "sso@example.com", "email_verified": True, "iat": time.time() - 86400}) is None
    assert wb.access.sso_user({"email": "sso@example.com", "email_verified": True, "iat": time.time() + 5}) is not None


# -- roles, enforced by the engine ----------------------------------------------------------------
def _actions(view, job_id: int):
    return {
        "make": lambda: view.enqueue(VideoRequest("Why octopuses are so smart", sources=[EXAMPLE_SOURCE])),
        "cancel": lambda: view.cancel(job_id),
        "create channel": lambda: view.create_channel(ChannelInput(f"Chan {view.actor.role}", niche="x")),
        "settings": lambda: view.update_settings({"quality_threshold": 55.0}),
        "prices": lambda: view.update_prices(view.price_rows()),
        "backup": lambda: view.export_backup(),
        "invite": lambda: view.access.invite(view.actor, f"x-{view.actor.role}@example.com", "analyst", 1),
        "users": lambda: view.access.users(),
        "approve": lambda: view.review.approve_script(job_id),
        "read": lambda: queries.jobs(view.db),
        "scenes": lambda: view.scenes(job_id),
    }


ALLOWED = {
    "owner": {"make", "cancel", "create channel", "settings", "prices", "backup", "invite", "users", "approve", "read",
              "scenes"},
    "operator": {"make", "cancel", "create channel", "approve", "read", "scenes"},
    "analyst": {"read", "scenes"},
}


def test_every_role_may_do_what_its_row_says_and_nothing_else(wb):
    from pipeline.jobs import InvalidTransition
    from pipeline.review import ReviewError

    boss = owner(wb)
    actors = {"owner": boss, "operator": member(wb, "operator", 1), "analyst": member(wb, "analyst", 1)}
    for role, actor in actors.items():
        view = wb.acting(actor)
        job = wb.enqueue(VideoRequest("Why octopuses are so smart", sources=[EXAMPLE_SOURCE]))
        for name, action in _actions(view, job).items():
            try:
                action()
                done = True
            except Forbidden as exc:
                assert role in str(exc) and "ask" in str(exc)
                done = False
            except (ReviewError, InvalidTransition):  # allowed, but not in this job's state
                done = True
            assert done == (name in ALLOWED[role]), f"{role} {name}"
    audit = wb.db.query_dicts("SELECT email, action FROM audit_log WHERE action IN ('job.make', 'settings.change')")
    assert {"email": "operator1@example.com", "action": "job.make"} in audit
    assert {"email": "owner@example.com", "action": "settings.change"} in audit
    assert not any(a["email"] == "analyst1@example.com" for a in audit)


# -- two workspaces -------------------------------------------------------------------------------
def two_workspaces(wb):
    boss = owner(wb)
    ws2 = wb.access.create_workspace(boss, "Beta Customer")
    alpha = wb.acting(boss.switched(1))
    alpha.create_channel(ChannelInput("Alpha Secret Channel", niche="alpha niche"))
    a_job = alpha.enqueue(VideoRequest("Alphatopic zebra migration", channel="Alpha Secret Channel",
                                       sources=[EXAMPLE_SOURCE]))
    beta = wb.acting(member(wb, "operator", ws2))
    beta.create_channel(ChannelInput("Beta Own Channel", niche="beta niche"))
    b_job = beta.enqueue(VideoRequest("Betatopic coral reefs", sources=[EXAMPLE_SOURCE]))
    return boss, alpha, beta, a_job, b_job


def test_a_workspace_never_reads_or_touches_another_workspaces_rows(wb):
    boss, alpha, beta, a_job, b_job = two_workspaces(wb)
    assert wb.db.query_one("SELECT channel_id FROM jobs WHERE id = ?", [b_job])[0] != \
        wb.db.query_one("SELECT channel_id FROM jobs WHERE id = ?", [a_job])[0]
    for name in dir(queries):  # every read model that takes only the database
        fn = getattr(queries, name)
        if not inspect.isfunction(fn) or fn.__module__ != "pipeline.queries" or name.startswith("_") or name in ("frame", "describe_freshness", "scope_of",
                                                                "scoped_sql", "locate", "data_version"):
            continue
        params = [p for p in inspect.signature(fn).parameters.values() if p.default is inspect.Parameter.empty]
        if len(params) != 1:
            continue
        text = str(fn(beta.db))
        assert "Alpha" not in text and "Alphatopic" not in text, name
    assert queries.jobs(beta.db)["id"].to_list() == [b_job]
    assert set(queries.jobs(wb.acting(boss.switched(None)).db)["id"].to_list()) == {a_job, b_job}  # owner: all
    for act in (lambda: beta.cancel(a_job), lambda: beta.retry(a_job), lambda: beta.delete_video(a_job),
                lambda: beta.review.script(a_job), lambda: beta.scenes(a_job), lambda: beta.bulk("cancel", [a_job])):
        with pytest.raises(NotInWorkspace, match="no job"):
            act()
    with pytest.raises(ChannelError, match="no channel"):
        beta.enqueue(VideoRequest("Sneaky", channel="Alpha Secret Channel", sources=[EXAMPLE_SOURCE]))
    with pytest.raises(NotInWorkspace):
        beta.delete_channel("Alpha Secret Channel")
    beta.clear_finished()  # "all finished" is this workspace's only
    assert wb.db.query_one("SELECT status FROM jobs WHERE id = ?", [a_job])[0] == "queued"
    # Idempotency keys are per workspace: the same key in another workspace makes its own job.
    k1 = alpha.submit(VideoRequest("Keyed one", request_key="same-key", sources=[EXAMPLE_SOURCE]))[0]
    k2 = beta.submit(VideoRequest("Keyed two", request_key="same-key", sources=[EXAMPLE_SOURCE]))[0]
    assert k1 != k2


def test_snapshots_and_exports_made_for_a_workspace_hold_only_its_rows(wb):
    _, alpha, beta, a_job, b_job = two_workspaces(wb)
    wb.snapshots.refresh(force=True)
    folder = wb.settings.data_dir / "snapshots" / "workspaces"
    ws2 = beta.actor.workspace_id
    jobs = pl.read_parquet(folder / str(ws2) / "jobs.parquet")
    chans = pl.read_parquet(folder / str(ws2) / "channels.parquet")
    assert jobs["id"].to_list() == [b_job] and chans["name"].to_list() == ["Beta Own Channel"]
    everything = pl.read_parquet(wb.settings.data_dir / "snapshots" / "jobs.parquet")
    assert set(everything["id"].to_list()) == {a_job, b_job}
    from ui.widgets import to_csv
    csv = to_csv(queries.jobs(beta.db)).decode()
    assert "Betatopic" in csv and "Alphatopic" not in csv


def test_budgets_apply_per_workspace(wb):
    boss, alpha, beta, a_job, b_job = two_workspaces(wb)
    ws2 = beta.actor.workspace_id
    wb.access.set_workspace_budget(boss, ws2, 0.5, {"openai": "1 usd"})
    assert beta.workspace_settings()["cap_usd"] == 0.5 and alpha.workspace_settings()["cap_usd"] == 3.0
    job = beta.enqueue(VideoRequest("Capped video", sources=[EXAMPLE_SOURCE]))
    assert wb.db.query_one("SELECT brief->>'cap_usd' FROM jobs WHERE id = ?", [job])[0] == "0.5"
    with pytest.raises(Exception, match="only an owner can raise it"):
        beta.enqueue(VideoRequest("Dearer", cap_usd=2.0, sources=[EXAMPLE_SOURCE]))
    guard = wb.worker._budget({"id": job, "brief": {"cap_usd": 0.5}})
    assert guard.workspace_daily and guard.workspace_id == ws2
    with pytest.raises(Forbidden):
        wb.access.set_workspace_budget(beta.actor, ws2, 9.0, None)
    with pytest.raises(AccessError, match="0 to"):
        wb.access.set_workspace_budget(boss, ws2, 5000, None)


# -- the CLI acts as someone ------------------------------------------------------------------------
def test_the_cli_acts_as_a_named_account_and_resets_a_password(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["users", "create-owner", "boss@example.com", "--name", "Boss", "--password-stdin",
                     "--data-dir", str(data)]) == 0
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        member(wb, "analyst", 1, "ana@example.com")
    capsys.readouterr()
    assert cli.main(["make", "A refused video", "--as", "ana@example.com", "--data-dir", str(data)]) == 7
    assert "analyst" in capsys.readouterr().err
    assert cli.main(["jobs", "--data-dir", str(data)]) == 7  # two accounts: say who
    assert "--as" in capsys.readouterr().err
    assert cli.main(["jobs", "--as", "ana@example.com", "--json", "--data-dir", str(data)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a brand new passphrase 9\n"))
    assert cli.main(["users", "reset-password", "boss@example.com", "--password-stdin", "--data-dir", str(data)]) == 0
    with Workbench(Settings(data_dir=data), start_worker=False) as wb:
        with pytest.raises(AccessError):
            wb.access.sign_in("boss@example.com", PASSWORD, "t")
        assert wb.access.sign_in("boss@example.com", "a brand new passphrase 9", "t").user["role"] == "owner"
        assert wb.db.query_one("SELECT count(*) FROM audit_log WHERE action = 'account.password'")[0] == 1


# -- what a reviewer tried (each held after its fix) ------------------------------------------------
def test_ids_in_other_spellings_never_slip_past_the_workspace_check(wb):
    boss, alpha, beta, a_job, b_job = two_workspaces(wb)
    a_channel = wb.db.query_one("SELECT id FROM channels WHERE name = 'Alpha Secret Channel'")[0]
    for spelled in (f"{a_job}.0", f"0x{a_job}", f"{a_job}e0", f"+{a_job}", float(a_job), True):
        with pytest.raises(NotInWorkspace):
            beta.cancel(spelled)
        with pytest.raises(NotInWorkspace):
            beta.review.runs(spelled)
    for spelled in (f"+{a_channel}", float(a_channel), f" {a_channel}.0"):
        with pytest.raises(NotInWorkspace):
            beta.save_schedule(spelled, "09:00", "UTC", None, 30, "shorts", "public")
        with pytest.raises(NotInWorkspace):
            beta.youtube.connected(spelled)
    with pytest.raises(NotInWorkspace):  # a channel that does not exist yet is nobody's to schedule
        beta.save_schedule(9999, "09:00", "UTC", None, 30, "shorts", "public")
    assert wb.db.query_one("SELECT count(*) FROM schedules")[0] == 0
    assert wb.db.query_one("SELECT status FROM jobs WHERE id = ?", [a_job])[0] == "queued"


def test_a_youtube_project_belongs_to_the_workspace_that_added_it(tmp_path):
    from test_youtube import KEY, client_secret, token
    with Workbench(Settings(data_dir=tmp_path / "data", token_key=KEY), start_worker=False) as wb:
        _a_project_belongs_to_its_workspace(wb, client_secret, token)


def _a_project_belongs_to_its_workspace(wb, client_secret, token):
    boss, alpha, beta, a_job, b_job = two_workspaces(wb)
    b_channel = wb.db.query_one("SELECT id FROM channels WHERE name = 'Beta Own Channel'")[0]
    a_channel = wb.db.query_one("SELECT id FROM channels WHERE name = 'Alpha Secret Channel'")[0]
    wb.acting(boss).youtube.add_account(a_channel, client_secret("proj-a"), token("a"))
    beta.youtube.add_account(b_channel, client_secret("proj-b"), token("b"))
    owners = dict(wb.db.query("SELECT project_id, workspace_id FROM youtube_projects"))
    assert owners == {"proj-a": 1, "proj-b": beta.actor.workspace_id}
    before = wb.db.query_one("SELECT client_config FROM youtube_projects WHERE project_id = 'proj-a'")[0]
    with pytest.raises(Exception, match="another workspace"):
        beta.youtube.add_account(b_channel, client_secret("proj-a"), token("b"))
    assert wb.db.query_one("SELECT client_config FROM youtube_projects WHERE project_id = 'proj-a'")[0] == before
    assert [q["project"] for q in beta.youtube.status()["quota"]] == ["proj-b"] * len(beta.youtube.status()["quota"])
    analyst = wb.acting(member(wb, "analyst", beta.actor.workspace_id))
    with pytest.raises(Forbidden):
        analyst.disconnect_channel(b_channel)
    assert beta.youtube.connected(b_channel)


def test_media_folders_stay_outside_the_data_directory(wb):
    boss, alpha, beta, a_job, b_job = two_workspaces(wb)
    (wb.settings.jobs_dir / str(a_job)).mkdir(parents=True, exist_ok=True)
    for folder in (wb.settings.jobs_dir / str(a_job), wb.settings.data_dir, wb.settings.data_dir.parent):
        with pytest.raises(Exception, match="data directory"):
            beta.add_media_folder(folder)
        with pytest.raises(Exception, match="data directory"):
            beta.set_music_folder(wb.db.query_one("SELECT id FROM channels WHERE name = 'Beta Own Channel'")[0],
                                  folder)


def test_the_access_desk_always_checks_the_acting_user_not_one_passed_in(wb):
    boss, alpha, beta, a_job, b_job = two_workspaces(wb)
    analyst = wb.acting(member(wb, "analyst", beta.actor.workspace_id))
    with pytest.raises(Forbidden):
        analyst.access.set_password(SYSTEM, "owner@example.com", "a brand new passphrase 9")
    with pytest.raises(Forbidden):
        analyst.access.invite(SYSTEM, "x@example.com", "owner", 1)
    assert [w["name"] for w in analyst.access.workspaces()] == ["Beta Customer"]
    with pytest.raises(NotInWorkspace):
        analyst.workspace_settings(1)


def test_a_scoped_read_that_would_step_around_the_filter_is_refused(wb):
    from pipeline.access.scope import ScopeEscape
    _, alpha, beta, a_job, b_job = two_workspaces(wb)
    wb.snapshots.refresh(force=True)
    every = (wb.settings.data_dir / "snapshots" / "jobs.parquet").as_posix()
    for sql in ("SELECT topic FROM main.jobs", 'SELECT topic FROM "main"."jobs"', "SELECT topic FROM ytempire.jobs",
                f"SELECT topic FROM read_parquet('{every}')", "SELECT email, password_hash FROM users",
                "SELECT * FROM sessions"):
        with pytest.raises(ScopeEscape):
            beta.db.query(sql)
    assert [r[0] for r in beta.db.query("SELECT topic FROM jobs")] == ["Betatopic coral reefs"]


def test_a_burst_of_parallel_guesses_gets_no_more_tries_than_one_at_a_time(wb):
    from concurrent.futures import ThreadPoolExecutor
    owner(wb)

    def guess(n: int) -> str:
        try:
            wb.access.sign_in("owner@example.com", f"wrong guess number {n}", "burst")
        except Throttled:
            return "throttled"
        except AccessError:
            return "checked"
        return "in"
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(guess, range(24)))
    assert results.count("checked") == 3 and results.count("throttled") == 21


def test_a_deleted_channels_videos_stay_in_their_workspace(wb):
    from pipeline import jobs as job_rows
    boss, alpha, beta, a_job, b_job = two_workspaces(wb)
    channel = wb.db.query_one("SELECT channel_id FROM jobs WHERE id = ?", [b_job])[0]
    with wb.db.write() as cur:
        job_rows._upsert_video(cur, b_job, {"channel_id": channel, "title": "Beta reef video", "description": "",
                                            "tags": [], "format": "shorts", "video_path": "/nowhere.mp4"})
        cur.execute("UPDATE jobs SET status = 'done' WHERE id = ?", [b_job])
    assert wb.db.query_one("SELECT workspace_id FROM videos WHERE job_id = ?", [b_job])[0] == beta.actor.workspace_id
    beta.delete_channel(channel)
    assert queries.library(beta.db)["job_id"].to_list() == [b_job]
    assert queries.library(alpha.db).is_empty() and queries.library_count(alpha.db) == 0


def test_the_checklist_ticks_from_real_state_and_its_one_click_video_has_a_source(wb):
    from pipeline.access.onboarding import checklist, progress, suggested_request
    boss = owner(wb)
    ws = wb.access.create_workspace(boss, "Fresh")
    fresh = wb.acting(member(wb, "operator", ws))
    assert progress(checklist(fresh)) == (0, 5)
    channel = fresh.create_channel(ChannelInput("Fresh Facts", niche="fresh things"))
    steps = {s.key: s.done for s in checklist(fresh)}
    assert steps["channel"] and steps["providers"] and not steps["video"]
    req = suggested_request(fresh)
    assert req.sources or req.related_titles  # never an unsourced local-writer video the gate would hold
    fresh.save_schedule(channel, "09:00", "UTC", None, 30, "shorts", "private")
    assert {s.key: s.done for s in checklist(fresh)}["schedule"]
    fresh.delete_channel(channel)  # ticked from state, not clicks: gone again
    assert not {s.key: s.done for s in checklist(fresh)}["channel"]
