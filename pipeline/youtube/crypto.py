"""Tokens and client secrets are encrypted at rest with a key the database never sees."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from pipeline.config import ConfigError


def new_key() -> str:
    return Fernet.generate_key().decode()


class TokenBox:
    """Fernet (AES-128-CBC + HMAC) around JSON, with the key from YTEMPIRE_TOKEN_KEY or secrets.toml."""

    def __init__(self, key: str | None):
        self._fernet = None
        if key:
            try:
                self._fernet = Fernet(key.encode() if isinstance(key, str) else key)
            except (ValueError, TypeError) as exc:
                raise ConfigError("YTEMPIRE_TOKEN_KEY is not a valid key: make one with "
                                  "`python -m pipeline channels key`.") from exc

    @property
    def ready(self) -> bool:
        return self._fernet is not None

    def _need(self) -> Fernet:
        if self._fernet is None:
            raise ConfigError("Set YTEMPIRE_TOKEN_KEY (environment or .streamlit/secrets.toml) before connecting "
                              "channels: make one with `python -m pipeline channels key`. It encrypts their tokens.")
        return self._fernet

    def seal(self, data: dict) -> bytes:
        return self._need().encrypt(json.dumps(data).encode())

    def open(self, blob: bytes) -> dict:
        try:
            return json.loads(self._need().decrypt(bytes(blob)))
        except InvalidToken as exc:
            raise ConfigError("The stored tokens do not open with this YTEMPIRE_TOKEN_KEY: use the key they were "
                              "saved with, or reconnect the channels.") from exc
