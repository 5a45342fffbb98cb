"""A small generic registry: short name → what is registered under it.

Each registry is filled in one place (the architectures from the `model:` config
union in `dltrain/models/__init__.py`, the export formats in
`dltrain/evaluation/export/formats.py`); a duplicate name is an error and a failed
lookup lists the registered names.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered name.

    Args:
        name: the short name, e.g. "cnn1d".
        config_class: the Pydantic class of its config.
        builder: what builds it.
        kinds: the data kinds it works with (see `dltrain.models.specs.DATA_KINDS`);
            empty when the registry is not about data. Defaults to ().
    """

    name: str
    config_class: type
    builder: T
    kinds: tuple[str, ...] = ()


class Registry(Generic[T]):
    """Maps short names to what is registered under them (an `Entry`, or any object).

    Args:
        kind: what is registered, for messages (e.g. "architecture").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, item: T) -> None:
        """Adds `item` under `name`; a name added twice is an error.

        Args:
            name: the short name users spell.
            item: what `get(name)` returns.
        """
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = item

    def register(
        self, name: str, config_class: type, builder: Any, *, kinds: tuple[str, ...] = ()
    ) -> None:
        """Adds `name` as an `Entry`; a name registered twice is an error.

        Args:
            name: the short name, as the config's tag spells it.
            config_class: the Pydantic class of its config.
            builder: what builds it.
            kinds: the data kinds it works with. Defaults to ().
        """
        self.add(name, Entry(name, config_class, builder, tuple(kinds)))  # type: ignore[arg-type]

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise LookupError(
                f"unknown {self.kind} {name!r}.{hint} Registered: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def items(self) -> list[T]:
        """What is registered, in the order it was added."""
        return list(self._entries.values())

    def supporting(self, kind: str) -> list[str]:
        """The registered names that declare data kind `kind`, sorted."""
        return [n for n in self.names() if kind in getattr(self._entries[n], "kinds", ())]

    def __contains__(self, name: object) -> bool:
        return name in self._entries


Builder = Callable[[Any, Any, Any], Any]
