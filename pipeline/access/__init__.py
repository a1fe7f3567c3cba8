"""Operators and access: accounts, sessions, roles, workspaces, invitations and the audit log."""

from pipeline.access.actor import PERMISSIONS, ROLE_WORDS, ROLES, SYSTEM, Actor, Forbidden, NotInWorkspace

__all__ = ["PERMISSIONS", "ROLE_WORDS", "ROLES", "SYSTEM", "Actor", "Forbidden", "NotInWorkspace"]
