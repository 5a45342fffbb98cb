"""Loading an experiment file: YAML (safe, with line numbers) → `--set` → validate → freeze.

Every problem is reported at once, each with the file:line it comes from (or the
`--set` override that caused it) and a did-you-mean hint for misspelt keys and
values.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from dltrain.config import inherit
from dltrain.config.base import union_members
from dltrain.config.schema import ExperimentConfig
from dltrain.errors import ConfigError, UsageError

DISCRIMINATORS = ("kind", "architecture", "method", "name", "rule")
MAX_CONFIG_BYTES = 1_000_000
MAX_DEPTH = 50  # nesting of lists and mappings; a real config needs fewer than 10
SHOWN_OVERRIDE = 80  # characters of a --set item quoted in a message

Path_ = tuple[Any, ...]


@dataclass
class Locator:
    """Maps a config path to where its value was written."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)
    overrides: dict[Path_, str] = field(default_factory=dict)
    origins: dict[Path_, str] = field(default_factory=dict)  # values dltrain set, and from where
    files: dict[Path_, str] = field(default_factory=dict)  # values from a base config's file

    def where(self, dotted: str | Path_) -> str:
        path = tuple(dotted.split(".")) if isinstance(dotted, str) else tuple(dotted)
        for n in range(len(path), -1, -1):
            if path[:n] in self.origins:
                return self.origins[path[:n]]
            if path[:n] in self.overrides:
                return f"--set {shown(self.overrides[path[:n]])}"
            if path[:n] in self.lines:
                return f"{self.files.get(path[:n], self.file)}:{self.lines[path[:n]]}"
        return self.file

    def folder(self, dotted: str | Path_) -> Path | None:
        """The folder of the config file when the value at `dotted` was written in it;
        None when a `--set` override or dltrain itself set it (relative to the working
        directory only)."""
        path = tuple(dotted.split(".")) if isinstance(dotted, str) else tuple(dotted)
        for n in range(len(path), -1, -1):
            if path[:n] in self.origins or path[:n] in self.overrides:
                return None
            if path[:n] in self.lines:
                break
        return Path(self.file).parent


def shown(item: str) -> str:
    """A `--set` item as quoted in a message: its start, if it is long."""
    return item if len(item) <= SHOWN_OVERRIDE else f"{item[: SHOWN_OVERRIDE - 3]}..."


class _Loader(yaml.SafeLoader):
    """A SafeLoader that refuses duplicate keys, keys that are lists or mappings, YAML
    aliases (no alias bombs) and nesting deeper than `MAX_DEPTH` (no RecursionError)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                "while reading the config",
                None,
                "YAML aliases (*name) are not supported in dltrain configs; write the value out",
                event.start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise yaml.MarkedYAMLError(
                None,
                None,
                f"lists and mappings are nested more than {MAX_DEPTH} levels deep here; "
                "a dltrain config needs only a few levels: check the brackets and indentation",
                self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                what = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
                raise yaml.MarkedYAMLError(
                    None,
                    None,
                    f"a key must be a plain name, not a {what} (a '? ' entry or a key in "
                    "brackets); write the key as a name",
                    key_node.start_mark,
                )
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.MarkedYAMLError(
                    "while reading the config",
                    None,
                    f"duplicate key {key!r} (first on line {seen[key]}, again on line {line}); "
                    "keep one of them",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _line_map(node, path: Path_ = (), lines: dict | None = None) -> dict[Path_, int]:
    lines = {} if lines is None else lines
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = (*path, key_node.value)
            lines[sub] = key_node.start_mark.line + 1
            _line_map(value_node, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, i)
            lines[sub] = item.start_mark.line + 1
            _line_map(item, sub, lines)
    return lines


def parse_yaml(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    """Parses YAML safely. Returns (data, {path: line}); raises ConfigError with file:line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)
        return data, _line_map(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        if "could not determine a constructor" in problem:
            problem = (
                f"{problem.strip()}: YAML tags that create objects are refused; "
                "write plain values (numbers, strings, lists, mappings)"
            )
        raise ConfigError(problem.strip(), where=where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=source) from None
    except RecursionError:  # not expected past MAX_DEPTH; never a traceback
        raise ConfigError(
            "lists and mappings are nested too deeply; check the brackets and indentation",
            where=source,
        ) from None
    finally:
        loader.dispose()


def parse_override(item: str) -> tuple[Path_, Any]:
    """Parses one `--set key.path=value`; the value is YAML (`1e-3`, `[32, 16]`, `null`)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise UsageError(
            "--set expects KEY=VALUE with a dotted key, e.g. --set train.epochs=30. "
            f"Received: {shown(item)!r}"
        )
    if not raw.strip():
        return tuple(key.split(".")), ""
    try:
        value, _ = parse_yaml(raw, "--set")
    except ConfigError as exc:
        raise ConfigError(exc.message, where=f"--set {shown(item)}") from None
    return tuple(key.split(".")), value


def apply_overrides(data: dict, overrides: list[str], locator: Locator) -> dict:
    for item in overrides:
        path, value = parse_override(item)
        _put(data, path, value, f"--set {shown(item)}")
        locator.overrides[path] = item
    return data


def _put(data: dict, path: Path_, value: Any, where: str) -> None:
    """Sets `path` in `data`, creating (or filling a null) section on the way."""
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(
                f"cannot set {'.'.join(map(str, path))}: {'.'.join(map(str, path[: i + 1]))} "
                f"is not a section (it is {child!r})",
                where=where,
            )
        node = child
    node[path[-1]] = value


def load_config(
    path: str | Path,
    overrides: list[str] | None = None,
    *,
    recorded: dict[str, tuple[Any, str]] | None = None,
) -> ExperimentConfig:
    """Loads, overrides and validates an experiment file.

    Args:
        path: the YAML experiment file; it may name a base config (`base: common.yaml`),
            merged under it first (`dltrain.config.inherit`).
        overrides: `key.path=value` strings applied after the file. Defaults to None.
        recorded: values dltrain itself sets after the overrides, as dotted key →
            (value, where it comes from for messages), e.g. a run's data path as
            recorded in its dataset.json, or a tuning trial's values. Defaults to None.

    Returns:
        The frozen, validated `ExperimentConfig`.

    Raises:
        UsageError: the file does not exist or cannot be read (exit 2).
        ConfigError: the YAML or its contents are invalid; lists every problem (exit 2).
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        hint = _nearby_files(path)
        raise UsageError(f"config file not found: {source}.{hint}")
    data, lines = read_mapping(path)
    layer = _layered(path, data, lines, [path.resolve()])
    data = layer.data
    locator = Locator(source, layer.lines, files=layer.files)
    data = apply_overrides(data, list(overrides or []), locator)
    for dotted, (value, origin) in (recorded or {}).items():
        keys = tuple(dotted.split("."))
        _put(data, keys, value, origin)
        locator.origins[keys] = origin
    return validate(data, locator)


def read_mapping(path: Path) -> tuple[dict, dict[Path_, int]]:
    """A config file's mapping and the line of every key (sizes, encoding, YAML checked)."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read config file {source}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file is larger than {MAX_CONFIG_BYTES} bytes", where=source)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file is not UTF-8 text (byte {exc.start}); save it as UTF-8", where=source
        ) from None
    data, lines = parse_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            "the experiment file must be a mapping (name:, data:, model:, ...), "
            f"not a {type(data).__name__}",
            where=f"{source}:1",
        )
    return data, lines


def _layered(path: Path, data: dict, lines: dict, seen: list[Path]) -> inherit.Layer:
    """The file's config merged over its base configs, if it names one."""
    top = inherit.Layer(data, lines, str(path))
    base = inherit.base_path(data, lines, str(path))
    if base is None:
        return top
    inherit.chain_limit(seen, base, f"{path}:{lines.get((inherit.KEY,), 1)}")
    base_data, base_lines = read_mapping(base)
    return inherit.merge(_layered(base, base_data, base_lines, seen), top)


def validate(data: dict, locator: Locator) -> ExperimentConfig:
    """Validates a config mapping; every problem is listed with its location."""
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(e, data, locator) for e in exc.errors()]
        n = len(problems)
        raise ConfigError(
            f"{n} problem{'s' if n > 1 else ''} in the experiment config "
            "(fix them, then run again):",
            details=problems,
        ) from None
    config._locator = locator
    from dltrain.models import check_kind  # the registry; no TensorFlow

    try:
        check_kind(config.model.architecture, config.data.kind)
    except ConfigError as exc:
        raise ConfigError(exc.message, where=config.where("model.architecture")) from None
    return config


def _describe(error: dict, data: dict, locator: Locator) -> str:
    """One line for one Pydantic error: where, dotted key, what is wrong, a hint."""
    path = _raw_path(error["loc"], data)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    received = error.get("input")
    dotted = ".".join(str(p) for p in path) or "(top level)"
    hint = ""
    if kind == "extra_forbidden":
        allowed = allowed_keys(path[:-1], data)
        msg = f"unknown key {path[-1]!r}"
        hint = _did_you_mean(str(path[-1]), allowed)
        if allowed:
            hint += f" Allowed keys here: {', '.join(allowed)}."
        received = None
    elif kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        msg = f"must be one of {', '.join(options)}"
        hint = _did_you_mean(str(received), options)
    elif kind == "union_tag_invalid":
        options = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
        disc = ctx.get("discriminator", "").strip("'").removesuffix("()")
        path = (*path, disc)
        dotted = ".".join(str(p) for p in path)
        msg = f"unknown {disc} {ctx.get('tag')!r}; must be one of {', '.join(options)}"
        hint = _did_you_mean(str(ctx.get("tag")), options)
        received = None
    elif kind == "union_tag_not_found":
        disc = ctx.get("discriminator", "").strip("'").removesuffix("()")
        what = path[-1] if path else "section"
        msg = f"missing key {disc!r} that says which kind of {what} this is"
        received = None
    elif kind == "missing":
        msg = "required key is missing"
        received = None
    elif kind == "value_error":
        msg = str(ctx.get("error", error["msg"]))
        received = None
    else:
        msg = error["msg"][0].lower() + error["msg"][1:]
    where = locator.where(path)
    text = f"{where}: {dotted}: {msg}."
    if hint:
        text += f" {hint.strip()}"
    if received is not None and not isinstance(received, dict | list):
        text += f" Received: {received!r}"
    return text


def _raw_path(loc: tuple, data: Any) -> Path_:
    """Pydantic's error location with union tags removed, as a path in the raw data."""
    path: list[Any] = []
    cur = data
    skipped = False
    for elem in loc:
        if isinstance(cur, dict) and elem in cur:
            path.append(elem)
            cur, skipped = cur[elem], False
        elif isinstance(cur, list) and isinstance(elem, int) and 0 <= elem < len(cur):
            path.append(elem)
            cur, skipped = cur[elem], False
        elif (
            isinstance(cur, dict)
            and not skipped
            and elem in {cur.get(k) for k in DISCRIMINATORS if isinstance(cur.get(k), str)}
        ):
            skipped = True
        elif isinstance(cur, dict) and isinstance(elem, str):
            path.append(elem)
            break
        else:
            break
    return tuple(path)


def allowed_keys(path: Path_, data: Any) -> list[str]:
    """The keys the schema accepts at `path` (following discriminated unions)."""
    model: Any = ExperimentConfig
    raw = data
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        info = model.model_fields.get(str(part))
        if info is None:
            return []
        raw = raw.get(part) if isinstance(raw, dict) else None
        model = _pick_model(info.annotation, raw)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _pick_model(annotation, raw) -> Any:
    args = [a for a in union_members(annotation) if a is not type(None)]
    if get_origin(annotation) is not None and not args:
        args = list(get_args(annotation))
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) <= 1:
        return models[0] if models else None
    for m in models:
        for disc in DISCRIMINATORS:
            f = m.model_fields.get(disc)
            if f is not None and isinstance(raw, dict) and raw.get(disc) == f.default:
                return m
    return None


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"Did you mean {close[0]!r}?" if close else ""


def _nearby_files(path: Path) -> str:
    folder = path.parent if path.parent.is_dir() else Path(".")
    names = [p.name for p in folder.glob("*.y*ml")]
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.5)
    return f" Did you mean {str(folder / close[0])!r}?" if close else ""


def dump_config(config: ExperimentConfig) -> str:
    """The resolved config (defaults filled in) as YAML text."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
