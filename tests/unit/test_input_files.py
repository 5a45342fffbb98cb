"""Data paths that are not regular files, and files over the size limits, are refused unread.

Before these checks, `/dev/zero` as a CSV grew until the machine killed the process, a
FIFO blocked forever, and a 13000 x 13000 PNG was decoded whole. So that such a
regression fails here instead of taking the machine, the risky calls run under
`runaway_guard` (a memory cap and an alarm); neither is an assertion.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import signal
import socket
import struct
import textwrap
import warnings
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from dltrain.cli import app
from dltrain.config import load_config
from dltrain.data import cache
from dltrain.errors import DataError
from dltrain.kinds import kind_of
from dltrain.kinds import read as read_samples
from dltrain.kinds.paths import source_files
from dltrain.models import ARCHITECTURES
from tests.conftest import write_config

GIB = 1 << 30
KINDS = {
    "device": "is a character device, not a regular file",
    "link": "is a symbolic link to /dev/zero, a character device, not a regular file",
    "fifo": "is a FIFO (named pipe), not a regular file",
    "socket": "is a socket, not a regular file",
}


@contextlib.contextmanager
def runaway_guard(seconds: int = 60, memory: int = 3 * GIB):
    """Caps this process's address space at its current size + `memory`, and its time."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with open("/proc/self/statm") as f:  # Linux; elsewhere only the alarm guards
            used = int(f.read().split()[0]) * resource.getpagesize()
        cap = used + memory if hard == resource.RLIM_INFINITY else min(hard, used + memory)
    except OSError:
        cap = soft

    def stop(signum, frame):
        raise TimeoutError("the reader blocked or ran away (a regression)")

    previous = signal.signal(signal.SIGALRM, stop)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def special(path: Path, kind: str) -> Path:
    """A path of `kind`: /dev/zero itself, a link to it, a FIFO or a bound Unix socket."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "device":
        return Path("/dev/zero")
    if kind == "link":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        here = Path.cwd()
        os.chdir(path.parent)  # a socket path must be short: bind the bare name
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)
    return path


def sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (a hole)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def big_png(path: Path, width: int, height: int) -> Path:
    """A valid gray PNG of any size, written without holding its pixels (a few 100 KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    packer = zlib.compressobj(1)
    rows = bytes(width + 1) * 1000  # filter byte 0, then black pixels
    parts = [packer.compress(rows) for _ in range(height // 1000)]
    parts += [packer.compress(bytes(width + 1) * (height % 1000)), packer.flush()]
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )
    return path


def declared_npy(path: Path, shape: tuple[int, ...]) -> Path:
    """A float64 .npy of `shape` whose data is a hole on disk (nothing written)."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype="float64", shape=shape)
    del array
    return path


def experiment(folder: Path, data: str):
    """A config in `folder` whose data section is `data` (YAML, unindented)."""
    body = textwrap.indent(textwrap.dedent(data).strip(), "  ")
    kind = yaml.safe_load(data)["kind"]
    model = ARCHITECTURES.supporting(kind)[0]
    text = f"name: t\ndata:\n{body}\nmodel:\n  architecture: {model}\n"
    return write_config(folder, text)


def read_error(folder: Path, data: str) -> DataError:
    config = load_config(experiment(folder, data))
    with runaway_guard(), pytest.raises(DataError) as info:
        read_samples(config)
    return info.value


def preprocess(folder: Path, data: str, *options: str):
    """`dltrain preprocess` of a config with this data section, in-process."""
    config = experiment(folder, data)
    with runaway_guard():
        return CliRunner().invoke(app, ["preprocess", str(config), *options])


def image(path: Path, value: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, dtype="uint8")).save(path)
    return path


def nothing_cached(folder: Path) -> bool:
    processed = folder / "data/processed"
    return not processed.exists() or not any(processed.iterdir())


# what a path is


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_path_that_is_not_a_regular_file_is_named_for_what_it_is(tmp_path, kind):
    from dltrain.data import inputfiles

    path = special(tmp_path / "x.csv", kind)
    assert inputfiles.not_regular(path) == KINDS[kind]
    assert inputfiles.not_regular(tmp_path) == "is a folder, not a regular file"
    (tmp_path / "ok.csv").write_text("a\n1\n")
    assert inputfiles.not_regular(tmp_path / "ok.csv") is None
    (tmp_path / "gone").symlink_to(tmp_path / "missing.csv")
    assert inputfiles.not_regular(tmp_path / "gone").startswith("is a broken symbolic link")


# data.path of every kind


@pytest.mark.parametrize("kind", list(KINDS))
def test_preprocess_refuses_a_table_that_is_not_a_regular_file(workdir, kind):
    path = special(workdir / "table.csv", kind)
    result = preprocess(workdir, f"kind: tabular\npath: {path}\ntarget: y")
    assert result.exit_code == 3, result.output
    assert f"{path}: {KINDS[kind]}; point data.path" in " ".join(result.output.split())
    assert nothing_cached(workdir)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("device", "kind: images\npath: {path}"),
        ("fifo", "kind: signals\npath: {path}\ntarget: null"),
        ("link", "kind: text\npath: {path}\ntarget: null"),
        ("socket", "kind: volumes\npath: {path}\ntarget: null"),
    ],
)
def test_preprocess_refuses_other_kinds_data_that_is_not_a_regular_file(workdir, kind, data):
    suffix = {"signals": ".npy", "text": ".csv", "volumes": ".npy"}.get(data.split()[1], "")
    path = special(workdir / f"data{suffix}", kind)
    result = preprocess(workdir, data.format(path=path))
    assert result.exit_code == 3, result.output
    assert f"{path}: {KINDS[kind]}; point data.path" in " ".join(result.output.split())
    assert nothing_cached(workdir)


@pytest.mark.parametrize(
    ("kind", "data", "name"),
    [
        ("fifo", "kind: signals\npath: {path}\ntarget: null", "x.npy"),
        ("link", "kind: text\npath: {path}\ntarget: null", "notes.csv"),
        ("socket", "kind: volumes\npath: {path}\ntarget: null", "v.npz"),
        ("device", "kind: images\npath: {path}", ""),
    ],
)
def test_each_reader_refuses_a_path_that_is_not_a_regular_file(tmp_path, kind, data, name):
    path = special(tmp_path / name, kind)
    error = read_error(tmp_path, data.format(path=path))
    assert error.where == str(path)
    assert error.message.startswith(f"{KINDS[kind]}; point data.path")


def test_labels_that_are_not_a_regular_file_are_refused(workdir):
    image(workdir / "img/a.png")
    labels = special(workdir / "labels.csv", "fifo")
    data = f"kind: images\npath: img\nlabels: {labels}"
    result = preprocess(workdir, data)
    assert result.exit_code == 3, result.output
    assert f"{labels}: {KINDS['fifo']}; point data.labels" in " ".join(result.output.split())
    assert read_error(workdir, data).message.startswith(f"{KINDS['fifo']}; point data.labels")


# files found in a folder


@pytest.mark.parametrize(
    ("data", "entry"),
    [
        ("kind: images\npath: d", "b/p.png"),
        ("kind: text\npath: d", "b/p.txt"),
        ("kind: signals\npath: d\nlabels: labels.csv\ntarget: y", "p.npy"),
        ("kind: volumes\npath: d\nlabels: labels.csv\ntarget: y", "p.npy"),
    ],
)
def test_a_fifo_in_a_data_folder_is_listed_not_opened(workdir, data, entry):
    kind = data.split()[1]
    if kind == "images":
        image(workdir / "d/a/x.png")
        image(workdir / "d/b/y.png", 9)
    elif kind == "text":
        (workdir / "d/a").mkdir(parents=True)
        (workdir / "d/a/x.txt").write_text("chest pain")
    else:
        (workdir / "d").mkdir()
        np.save(workdir / "d/x.npy", np.zeros((4, 2, 2) if kind == "volumes" else 4))
        pd.DataFrame({"id": ["x", "p"], "y": [0, 1]}).to_csv(workdir / "labels.csv", index=False)
    special(workdir / "d" / entry, "fifo")
    fifo = Path("d", entry)  # as data.path names it: relative to the working directory
    error = read_error(workdir, data)
    assert "cannot be read as files; dltrain refuses them rather than skip them" in error.message
    assert error.details == [f"{fifo}: {KINDS['fifo']}"]
    result = preprocess(workdir, data)  # the fingerprint reads every file first
    assert result.exit_code == 3, result.output
    assert f"{fifo}: {KINDS['fifo']}" in " ".join(result.output.split())
    assert nothing_cached(workdir)


def test_the_fingerprint_refuses_what_it_cannot_read_before_reading(tmp_path):
    fifo = special(tmp_path / "f.csv", "fifo")
    with runaway_guard(), pytest.raises(DataError) as info:
        cache.sha256_file(fifo)
    assert info.value.message.startswith(KINDS["fifo"])
    image(tmp_path / "img/a/x.png")
    sock = special(tmp_path / "img/a/.s", "socket")  # hidden: still in the folder, refused
    config = load_config(experiment(tmp_path, "kind: images\npath: img"))
    with runaway_guard(), pytest.raises(DataError) as info:
        source_files(config)
    assert info.value.details == [f"{sock}: {KINDS['socket']}"]


# predict and evaluate inputs


def read_new(kind: str, shape: tuple[int, ...], path: Path):
    """`predict`'s reading of `path` for a run of `kind` fitted to `shape` (no model needed)."""
    transform = SimpleNamespace(kind=kind, shape=shape, info={"fit": "pad"})
    config = SimpleNamespace(data=SimpleNamespace(size=list(shape[:2]), text="note", id="id"))
    return kind_of(kind).read_new(path, config, transform)


@pytest.mark.parametrize(
    ("kind", "shape", "name", "special_kind"),
    [
        ("signals", (4, 1), "x.npy", "fifo"),
        ("text", (), "notes.txt", "socket"),
        ("images", (4, 4, 1), "a.png", "link"),
        ("volumes", (2, 2, 2, 1), "v.npz", "fifo"),
    ],
)
def test_predict_refuses_an_input_that_is_not_a_regular_file(
    tmp_path, kind, shape, name, special_kind
):
    path = special(tmp_path / name, special_kind)
    with runaway_guard(), pytest.raises(DataError) as info:
        read_new(kind, shape, path)
    assert info.value.message.startswith(f"{KINDS[special_kind]}; give predict a file")


def test_predict_lists_a_fifo_in_an_input_folder(tmp_path):
    image(tmp_path / "in/a.png")
    fifo = special(tmp_path / "in/b.png", "fifo")
    with runaway_guard(), pytest.raises(DataError) as info:
        read_new("images", (4, 4, 1), tmp_path / "in")
    assert info.value.details == [f"{fifo}: {KINDS['fifo']}"]


# size limits


def read_table(path: Path):
    from dltrain.config.data import TabularData
    from dltrain.data import tabular

    return tabular.read_table(path, TabularData(path=str(path), target="y"))


def test_a_csv_over_the_limit_is_refused_unread(tmp_path):
    path = sparse(tmp_path / "table.csv", GIB + 1)
    with runaway_guard(), pytest.raises(DataError) as info:
        read_table(path)  # `evaluate --data` and `predict` of a table too
    assert info.value.exit_code == 3
    assert info.value.where == str(path)
    assert info.value.message == (
        "is 1,073,741,825 bytes (1.0 GiB), over dltrain's limit of 1 GiB for a CSV file (read "
        "whole into memory): "
        "keep only the rows and columns the model needs, or split the file; the limit has no "
        "setting: it keeps one file from exhausting the machine's memory (docs/decisions.md, "
        "'Input size limits')"
    )


def test_a_labels_csv_over_the_limit_is_refused_unread(tmp_path):
    image(tmp_path / "img/a.png")
    sparse(tmp_path / "labels.csv", GIB + 1)
    error = read_error(tmp_path, "kind: images\npath: img\nlabels: labels.csv")
    assert error.message.startswith(
        "is 1,073,741,825 bytes (1.0 GiB), over dltrain's limit of 1 GiB for a CSV"
    )


def test_a_text_file_over_the_limit_is_listed(tmp_path):
    (tmp_path / "d/a").mkdir(parents=True)
    (tmp_path / "d/a/ok.txt").write_text("fine")
    big = sparse(tmp_path / "d/b/big.txt", (256 << 20) + 1)
    error = read_error(tmp_path, "kind: text\npath: d")
    assert error.details == [
        f"{big}: is 268,435,457 bytes (256.0 MiB), over dltrain's limit of 256 MiB for a text "
        "file (read whole into memory): split it into one file per text, or one text per line "
        "of several files; the limit has no setting: it keeps one file from exhausting the "
        "machine's memory (docs/decisions.md, 'Input size limits')"
    ]


def test_an_image_file_over_the_limit_is_listed(tmp_path):
    image(tmp_path / "img/a/ok.png")
    big = sparse(tmp_path / "img/b/big.png", (512 << 20) + 1)
    error = read_error(tmp_path, "kind: images\npath: img")
    assert error.details[0].startswith(
        f"{big}: is 536,870,913 bytes (512.0 MiB), over dltrain's limit of 512 MiB"
    )


def test_a_record_array_over_the_limit_is_refused_from_its_header(tmp_path):
    (tmp_path / "d").mkdir()
    np.save(tmp_path / "d/ok.npy", np.zeros(4))
    big = declared_npy(tmp_path / "d/big.npy", (9 << 26,))  # 4.5 GiB
    pd.DataFrame({"id": ["ok", "big"], "y": [0, 1]}).to_csv(tmp_path / "l.csv", index=False)
    error = read_error(tmp_path, "kind: signals\npath: d\nlabels: l.csv\ntarget: y")
    assert error.details[0].startswith(
        f"{big} ({tmp_path / 'l.csv'}:3): is 4,831,838,208 bytes (4.5 GiB) as an array, over "
        "dltrain's limit of 4 GiB"
    )


def test_a_mapped_array_is_not_limited_but_one_sample_is(tmp_path):
    big = declared_npy(tmp_path / "x.npy", (1, 9 << 26))  # one series of 4.5 GiB
    error = read_error(tmp_path, "kind: signals\npath: x.npy\ntarget: null")
    assert error.where == str(big)
    assert error.message.startswith(
        "one sample (a row of the array of shape (1, 603979776)) is 4,831,838,208 bytes (4.5 GiB), "
        "over dltrain's limit of 4 GiB"
    )


def npz_declaring(path: Path, shape: tuple[int, ...]) -> Path:
    """An .npz whose one member's header declares `shape` (float64) but holds 16 bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(16))
    return path


def test_an_npz_member_is_checked_from_its_header_before_it_is_loaded(tmp_path):
    path = npz_declaring(tmp_path / "x.npz", (9 << 26, 1))
    error = read_error(tmp_path, "kind: signals\npath: x.npz\ntarget: null")
    assert error.message.startswith(
        "member 'x' is 4,831,838,208 bytes (4.5 GiB) as an array of shape (603979776, 1), over "
        "dltrain's limit of 4 GiB"
    )
    with runaway_guard(), pytest.raises(DataError) as info:
        read_new("signals", (4, 1), path)
    assert "over dltrain's limit of 4 GiB" in info.value.message


def test_a_zip_bomb_is_not_decompressed(tmp_path, monkeypatch):
    from dltrain.data import inputfiles

    small = inputfiles.Limit(1 << 20, "an array loaded whole into memory", "split it")
    monkeypatch.setattr(inputfiles, "ARRAY", small)
    path = tmp_path / "x.npz"  # 2 MiB of zeros in ~2 KiB
    np.savez_compressed(path, np.zeros((1 << 18, 1)))
    assert path.stat().st_size < 10_000
    error = read_error(tmp_path, "kind: signals\npath: x.npz\ntarget: null")
    assert error.message.startswith(
        "member 'arr_0' is 2,097,280 bytes (2.0 MiB) uncompressed, over dltrain's limit"
    )


def test_a_parquet_table_is_checked_from_its_footer(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"  # 2^28 + 1 empty cells: a few KB on disk
    pq.write_table(pa.table({"y": pa.nulls((1 << 28) + 1)}), path)
    assert path.stat().st_size < 1 << 20
    with runaway_guard(), pytest.raises(DataError) as info:
        read_table(path)
    assert info.value.message.startswith(
        "has 268,435,457 rows x 1 columns = 268,435,457 cells, over dltrain's limit of "
        "268,435,456 cells"
    )


# images: pixels


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory):
    """13000 x 13000 gray pixels (169 M: Pillow only warns), ~700 KB on disk."""
    return big_png(tmp_path_factory.mktemp("png") / "huge.png", 13000, 13000)


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path, huge_png):
    image(tmp_path / "img/a/ok.png")
    (tmp_path / "img/b").mkdir(parents=True)
    (tmp_path / "img/b/huge.png").symlink_to(huge_png)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # handled, not shown
        error = read_error(tmp_path, "kind: images\npath: img")
    assert error.details == [
        f"{tmp_path / 'img/b/huge.png'}: is 13000 x 13000 = 169,000,000 pixels; over dltrain's "
        "limit of 67,108,864 pixels (64 megapixels) per image, so it is not decoded (that would "
        "take gigabytes of memory): downscale it (every image is resized to data.size anyway); "
        "the limit has no setting: it keeps one file from exhausting the machine's memory "
        "(docs/decisions.md, 'Input size limits')"
    ]


def test_predict_refuses_an_image_over_the_pixel_limit(huge_png):
    with runaway_guard(), pytest.raises(DataError) as info:
        read_new("images", (4, 4, 1), huge_png)
    assert info.value.details == [
        f"{huge_png}: is 13000 x 13000 = 169,000,000 pixels; over dltrain's limit of "
        "67,108,864 pixels (64 megapixels) per image, so it is not decoded (that would take "
        "gigabytes of memory): downscale it (every image is resized to data.size anyway); the "
        "limit has no setting: it keeps one file from exhausting the machine's memory "
        "(docs/decisions.md, 'Input size limits')"
    ]


def test_an_image_pillow_calls_a_bomb_gets_dltrains_limit(tmp_path):
    image(tmp_path / "img/a/ok.png")
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)  # 400 M pixels
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    bomb = tmp_path / "img/b/bomb.png"
    bomb.parent.mkdir()
    idat = struct.pack(">I", 0) + b"IDAT" + struct.pack(">I", zlib.crc32(b"IDAT"))
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + crc + idat)
    error = read_error(tmp_path, "kind: images\npath: img")
    assert error.details[0].startswith(
        f"{bomb}: is over dltrain's limit of 67,108,864 pixels (64 megapixels) per image"
    )


def test_the_documented_limits():
    from dltrain.data import inputfiles

    assert inputfiles.CSV.bytes == inputfiles.PARQUET.bytes == GIB
    assert inputfiles.PARQUET_CELLS == 1 << 28
    assert inputfiles.TEXT.bytes == 256 << 20
    assert inputfiles.IMAGE.bytes == 512 << 20
    assert inputfiles.IMAGE_PIXELS == 8192 * 8192
    assert inputfiles.ARRAY.bytes == 4 * GIB
    decisions = (Path(__file__).parents[2] / "docs/decisions.md").read_text()
    assert "## Input size limits" in decisions
