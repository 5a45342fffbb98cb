"""A small generic registry: short name → (config class, builder).

Registration is explicit, in one place (`dltrain/models/__init__.py`); a
duplicate name is an error and a failed lookup lists the registered names.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    config_class: type
    builder: T


class Registry(Generic[T]):
    """Maps short names to entries.

    Args:
        kind: what is registered, for messages (e.g. "architecture").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, config_class: type, builder: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, config_class, builder)

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise LookupError(
                f"unknown {self.kind} {name!r}.{hint} Registered: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


Builder = Callable[[Any, Any, Any], Any]
