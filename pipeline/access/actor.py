"""Who is acting, in which workspace, and what their role lets them do.

Every shell (pages, CLI, API) resolves an :class:`Actor` and hands it to the Workbench
(``Workbench.acting(actor)``); the Workbench checks each action itself, so no shell can skip a check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("owner", "operator", "analyst")

# What each permission lets a role do, in the words a refusal uses.
PERMISSIONS: dict[str, tuple[frozenset[str], str]] = {
    "read": (frozenset(ROLES), "see this workspace"),
    "export": (frozenset(ROLES), "export data"),
    "make": (frozenset({"owner", "operator"}), "make, edit, cancel or retry videos"),
    "publish": (frozenset({"owner", "operator"}), "publish videos"),
    "channels": (frozenset({"owner", "operator"}), "manage channels, schedules, YouTube connections and media"),
    "admin": (frozenset({"owner"}), "change users, workspaces, keys, prices, budgets or settings, or back up and "
                                    "restore"),
}

ROLE_WORDS = {
    "owner": "everything: users, workspaces, keys, prices, budgets, backup and restore",
    "operator": "make, publish and schedule videos and manage the channels of their workspaces",
    "analyst": "read and export only",
}


class Forbidden(PermissionError):
    """An action the acting user may not take; the message says why and who can."""


class NotInWorkspace(LookupError):
    """A job, channel or file outside the acting user's workspaces (said as "not found": nothing leaks)."""


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    email: str
    name: str
    role: str
    workspace_id: int | None  # the workspace new things go into and pages show (None: the owner sees all)
    workspaces: frozenset[int] = field(default_factory=frozenset)  # every workspace they belong to
    client: str = ""  # where the action came from: "web 127.0.0.1", "cli user@host"

    @property
    def is_system(self) -> bool:
        return self.user_id is None and self.role == "owner"

    @property
    def scope(self) -> frozenset[int] | None:
        """The workspace ids reads are limited to; None: every workspace (the owner's "All workspaces")."""
        if self.role == "owner" and self.workspace_id is None:
            return None
        return frozenset({self.workspace_id}) if self.workspace_id is not None else frozenset()

    def can(self, permission: str) -> bool:
        roles, _ = PERMISSIONS[permission]
        return self.role in roles

    def require(self, permission: str) -> None:
        if not self.can(permission):
            _, words = PERMISSIONS[permission]
            who = " or ".join(sorted(r for r in PERMISSIONS[permission][0]))
            raise Forbidden(f"Your role ({self.role}) cannot {words}: ask a user with the {who} role.")

    def sees(self, workspace_id: int | None) -> bool:
        scope = self.scope
        return scope is None or workspace_id in scope

    def home(self) -> int:
        """The workspace something new goes into: the current one (the owner on "All": the first)."""
        if self.workspace_id is not None:
            return self.workspace_id
        return min(self.workspaces) if self.workspaces else 1

    def switched(self, workspace_id: int | None) -> Actor:
        """The same user acting in another of their workspaces (the owner: any, or None for all)."""
        if workspace_id is None and self.role != "owner":
            raise Forbidden("Only an owner can look at every workspace at once.")
        if workspace_id is not None and self.role != "owner" and workspace_id not in self.workspaces:
            raise NotInWorkspace(f"There is no workspace {workspace_id} among yours.")
        return Actor(self.user_id, self.email, self.name, self.role, workspace_id, self.workspaces, self.client)


# The installation itself: the scheduler, start-up, tests and a one-user CLI before any account exists.
SYSTEM = Actor(None, "system", "System", "owner", None, frozenset(), "system")
