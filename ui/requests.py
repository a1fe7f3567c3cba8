"""Idempotency keys for the forms that start paid work: a double click (or a rerun) sends the same key,
so the engine makes one job; changing the inputs, or asking for another copy, makes a new key."""

from __future__ import annotations

import hashlib
import uuid

import streamlit as st


def request_key(scope: str, inputs: tuple) -> str:
    """The key for this form with these inputs in this browser session."""
    state = st.session_state.setdefault(f"request-key-{scope}", {})
    digest = hashlib.sha256(repr(inputs).encode()).hexdigest()[:16]
    if state.get("inputs") != digest:
        state.update(inputs=digest, nonce=uuid.uuid4().hex)
    return f"{scope}:{state['nonce']}"


def another_copy(scope: str) -> None:
    """The next submit of this form makes a new job even with the same inputs."""
    st.session_state.setdefault(f"request-key-{scope}", {})["nonce"] = uuid.uuid4().hex
