"""Pseudonyms for ids read from file headers (DICOM PatientID, the EDF patient code, ...).

A header id (a patient's hospital number) must not reach the cache, a run, the logs, the
predictions or the report. What goes there instead is a keyed hash: "pid-" and the first
16 hex digits of HMAC-SHA256(key, value). The key is 32 random bytes kept outside runs/
and the cache, so a pseudonym cannot be reversed by hashing candidate ids without it,
while the same patient gets the same pseudonym in every run on this site (a patient-level
split, the leakage audit and `compare` still see one patient).

Where the key is:
1. the file named by `$DLTRAIN_PSEUDONYM_KEY`, if set;
2. else `$XDG_CONFIG_HOME/dltrain/pseudonym.key` (`~/.config/dltrain/pseudonym.key`).
It is created on first use (mode 0600, written once: a second process racing to create it
reads the first one's). Keep it with the data's other secrets; losing it only means new
pseudonyms for the next runs. `data.pseudonymise: false` keeps the raw ids (the config says
so, in every run that does it).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from dltrain.errors import RunError

ENV = "DLTRAIN_PSEUDONYM_KEY"
PREFIX = "pid-"
KEY_BYTES = 32


def key_path() -> Path:
    """Where the key is (see the module docstring); it may not exist yet."""
    named = os.environ.get(ENV)
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "dltrain" / "pseudonym.key"


def key() -> bytes:
    """The site's key, created on first use.

    Raises:
        RunError: the key file cannot be read or created, or is not a key dltrain wrote.
    """
    path = key_path()
    try:
        if not path.exists():
            _create(path)
        text = path.read_text().strip()
        value = bytes.fromhex(text)
    except ValueError:
        raise RunError(
            f"the pseudonym key {path} is not a hex key dltrain wrote; restore it, or remove "
            f"it to start new pseudonyms (set {ENV} to use another file)"
        ) from None
    except OSError as exc:
        raise RunError(
            f"cannot read or create the pseudonym key {path}: {exc.strerror or exc}; set {ENV} "
            "to a file you can write (outside runs/ and the cache)"
        ) from None
    if len(value) < 16:
        raise RunError(f"the pseudonym key {path} is too short ({len(value)} bytes); remove it")
    return value


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(KEY_BYTES) + "\n")


def key_id() -> str:
    """A short public fingerprint of the key (the cache fingerprint covers it, so that a
    new key never reuses shards holding the old pseudonyms)."""
    return hashlib.sha256(b"dltrain-key-id" + key()).hexdigest()[:16]


def pseudonym(value: str, secret: bytes) -> str:
    """The pseudonym of one header id: "pid-" + 16 hex digits of HMAC-SHA256."""
    digest = hmac.new(secret, str(value).strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:16]


def pseudonymised(values: list[str], enabled: bool) -> list[str]:
    """Each value's pseudonym, or the values as they are when `enabled` is False."""
    if not enabled:
        return [str(v) for v in values]
    secret = key()
    return [pseudonym(v, secret) for v in values]
