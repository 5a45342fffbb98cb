"""Static guard: nothing in dltrain unpickles, evaluates strings or loads YAML/models unsafely."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

SOURCES = sorted((REPO / "dltrain").rglob("*.py"))
FORBIDDEN = {
    "pickle": re.compile(r"^\s*(import|from)\s+(c?pickle|dill|joblib)\b", re.M),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "safe_mode=False": re.compile(r"safe_mode\s*=\s*False"),
    "unsafe YAML": re.compile(r"yaml\.(load|full_load|unsafe_load)\(|yaml\.(Full|Unsafe)?Loader\b"),
    "eval/exec": re.compile(r"(?<![\w.])(eval|exec)\("),
}


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_no_unsafe_calls(what):
    hits = [
        f"{path.relative_to(REPO)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in SOURCES
        for text in [path.read_text()]
        for m in FORBIDDEN[what].finditer(text)
    ]
    assert not hits, f"{what} in {hits}"


def test_every_npz_load_refuses_pickles():
    for path in SOURCES:
        for line in path.read_text().splitlines():
            if "np.load(" in line:
                assert "allow_pickle=False" in line, f"{path}: {line.strip()}"
