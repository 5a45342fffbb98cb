"""Base configs: `base: common.yaml` in an experiment file, merged before validation.

An experiment may name one base config (a path relative to its own file), which may name
its own, and so on. The files are merged from the deepest base up: a mapping in the
experiment updates the base's mapping key by key, anything else (a value, a list)
replaces it. A section that changes its kind (`architecture`, `kind`, `method`, `name`
or `rule`) replaces the base's section as a whole: the settings of another architecture
or split method do not carry over. The merged mapping is then validated as one config,
and every value keeps the file and line it was written on, so an error points there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dltrain.errors import ConfigError

KEY = "base"
MAX_BASES = 10
SWITCHES = ("kind", "architecture", "method", "name", "rule")  # a new one replaces the section


class Layer:
    """One config file's data, with the line and the file of every path in it."""

    def __init__(self, data: dict, lines: dict, file: str):
        self.data = data
        self.lines = dict(lines)
        self.files = {path: file for path in lines}


def base_path(data: dict, lines: dict, source: str) -> Path | None:
    """The base config `data` names (resolved against the file's folder), or None."""
    if KEY not in data:
        return None
    value = data.pop(KEY)
    where = f"{source}:{lines.get((KEY,), 1)}"
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"base must name one config file, e.g. base: common.yaml. Received: {value!r}",
            where=where,
        )
    path = Path(source).parent / value
    if not path.is_file():
        raise ConfigError(
            f"base config not found: {path} (relative to the folder of {source}); check the "
            "name, or write the path relative to this config file",
            where=where,
        )
    return path


def chain_limit(seen: list[Path], path: Path, where: str) -> None:
    """Refuses a base that is already in the chain (a cycle) or a chain too long."""
    resolved = path.resolve()
    if resolved in seen:
        chain = " → ".join(str(p) for p in [*seen, resolved])
        raise ConfigError(f"base configs name each other in a circle: {chain}", where=where)
    if len(seen) >= MAX_BASES:
        raise ConfigError(f"more than {MAX_BASES} base configs in a chain", where=where)
    seen.append(resolved)


def merge(base: Layer, top: Layer) -> Layer:
    """`top` over `base`: mappings merged key by key, everything else replaced."""
    merged = Layer({}, {}, "")
    merged.data = _merge(base.data, top.data, (), base, top, merged)
    return merged


def _merge(low: Any, high: Any, path: tuple, base: Layer, top: Layer, out: Layer) -> Any:
    if not (isinstance(low, dict) and isinstance(high, dict)) or _switches(low, high, path):
        _take(top, path, out)
        return high
    result = {}
    for key in list(low) + [k for k in high if k not in low]:
        sub = (*path, key)
        if key not in high:
            result[key] = low[key]
            _take(base, sub, out)
        elif key not in low:
            result[key] = high[key]
            _take(top, sub, out)
        else:
            result[key] = _merge(low[key], high[key], sub, base, top, out)
            for layer in (top, base):  # the key's own line: where the file wrote it
                if sub in layer.lines:
                    out.lines[sub], out.files[sub] = layer.lines[sub], layer.files[sub]
                    break
    return result


def _switches(low: dict, high: dict, path: tuple) -> bool:
    """A nested section whose kind changes is replaced, not merged (never the root: its
    `name` is the experiment's)."""
    return bool(path) and any(
        key in high and key in low and high[key] != low[key] for key in SWITCHES
    )


def _take(layer: Layer, path: tuple, out: Layer) -> None:
    """Copies the lines and files of `path` and everything under it from `layer`."""
    n = len(path)
    for sub, line in layer.lines.items():
        if sub[:n] == path:
            out.lines[sub], out.files[sub] = line, layer.files[sub]
