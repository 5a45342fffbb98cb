"""Reading images, signals, text and volumes: the table, the inputs, and every bad file listed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from dltrain.config import load_config
from dltrain.errors import ConfigError, DataError
from dltrain.kinds import files, kind_of
from dltrain.kinds import read as read_samples
from dltrain.models import ARCHITECTURES
from tests.conftest import REPO, write_config


@pytest.fixture(autouse=True)
def elsewhere(tmp_path_factory, monkeypatch):
    """Run from an empty folder: data paths resolve beside the config, as absolute paths."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


def experiment(folder: Path, data: str):
    """A config in `folder` whose data section is `data` (YAML, unindented)."""
    body = textwrap.indent(textwrap.dedent(data).strip(), "  ")
    kind = yaml.safe_load(data)["kind"]
    model = ARCHITECTURES.supporting(kind)[0]
    return load_config(
        write_config(folder, f"name: t\ndata:\n{body}\nmodel:\n  architecture: {model}\n")
    )


def read(folder: Path, data: str):
    return read_samples(experiment(folder, data))


def data_error(folder: Path, data: str) -> DataError:
    with pytest.raises(DataError) as info:
        read(folder, data)
    return info.value


def config_error(folder: Path, data: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        read(folder, data)
    return info.value


def image(path: Path, array, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array)).save(path, **save)
    return path


def gray(value: int, shape=(6, 10)) -> np.ndarray:
    return np.full(shape, value, dtype="uint8")


def labels(folder: Path, rows: dict, name: str = "labels.csv") -> Path:
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


# images: folder per class


@pytest.fixture
def class_folders(tmp_path):
    image(tmp_path / "img/benign/b1.png", gray(10))
    image(tmp_path / "img/benign/b2.PNG", gray(20))
    image(tmp_path / "img/malignant/m1.jpg", gray(200), quality=100)
    image(tmp_path / "img/malignant/.hidden.png", gray(0))
    (tmp_path / "img/malignant/notes.txt").write_text("not an image")
    (tmp_path / "img/.DS_Store").write_bytes(b"\0")
    return tmp_path


def test_images_folder_per_class_table_and_pixels(class_folders):
    samples = read(class_folders, "kind: images\npath: img\nsize: [4, 5]")
    assert samples.kind == "images"
    assert list(samples.table.columns) == ["id", "label"]
    assert samples.table["id"].tolist() == ["benign/b1.png", "benign/b2.PNG", "malignant/m1.jpg"]
    assert samples.table["label"].tolist() == ["benign", "benign", "malignant"]
    assert samples.shape == (4, 5, 1)
    x = samples.load(np.array([2, 0]))
    assert x.dtype == np.uint8 and x.shape == (2, 4, 5, 1)
    assert np.all(x[1] == 10)
    assert np.all(np.abs(x[0].astype(int) - 200) <= 1)  # JPEG at quality 100
    img = class_folders / "img"
    assert samples.files == [img / "benign/b1.png", img / "benign/b2.PNG", img / "malignant/m1.jpg"]
    assert samples.where(0) == str(img / "benign/b1.png")
    assert samples.info["color"] == "grayscale"
    assert samples.info["images_with_color"] == 0
    assert samples.info["ignored_files"] == 1  # notes.txt; hidden files are not counted
    assert samples.info["formats"] == {"JPEG": 1, "PNG": 2}
    assert samples.info["original_height"] == {"min": 6, "median": 6.0, "max": 6}


def test_images_target_name_comes_from_the_config(class_folders):
    samples = read(class_folders, "kind: images\npath: img\ntarget: diagnosis")
    assert list(samples.table.columns) == ["id", "diagnosis"]


def test_images_raw_files_are_not_modified(class_folders):
    files = sorted((class_folders / "img").rglob("*"))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files if p.is_file()}
    samples = read(class_folders, "kind: images\npath: img\nsize: [4, 4]")
    samples.load(np.arange(len(samples)))
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files if p.is_file()}
    assert after == before


def test_images_auto_colour_is_rgb_when_any_image_has_colour(tmp_path):
    image(tmp_path / "img/a/gray.png", gray(50))
    red = np.zeros((6, 10, 3), dtype="uint8")
    red[..., 0] = 255
    image(tmp_path / "img/b/red.png", red)
    samples = read(tmp_path, "kind: images\npath: img\nsize: [4, 4]")
    assert samples.info["color"] == "rgb"
    assert samples.info["images_with_color"] == 1
    x = samples.load(np.array([0, 1]))
    assert x.shape == (2, 4, 4, 3)
    assert np.all(x[0] == 50)
    assert np.all(x[1] == [255, 0, 0])
    forced = read(tmp_path, "kind: images\npath: img\nsize: [4, 4]\ncolor: grayscale")
    assert forced.shape == (4, 4, 1)
    assert forced.info["color"] == "grayscale" and forced.info["color_setting"] == "grayscale"
    assert np.all(forced.load(np.array([1]))[0] == 76)  # ITU-R 601-2 luma of pure red


def test_images_gray_content_saved_as_rgb_is_grayscale_and_rgb_can_be_forced(tmp_path):
    image(tmp_path / "img/a/x.png", np.stack([gray(90)] * 3, axis=-1))
    image(tmp_path / "img/b/y.jpg", np.stack([gray(140)] * 3, axis=-1), quality=95)
    samples = read(tmp_path, "kind: images\npath: img\nsize: [4, 4]")
    assert samples.info["color"] == "grayscale"
    assert samples.info["modes"] == {"RGB": 2}
    assert samples.shape == (4, 4, 1)
    rgb = read(tmp_path, "kind: images\npath: img\nsize: [4, 4]\ncolor: rgb")
    assert rgb.shape == (4, 4, 3)
    assert np.all(rgb.load(np.array([0]))[0] == 90)


def test_images_16_bit_are_stretched_and_transparency_is_over_black(tmp_path):
    wide = np.zeros((4, 4), dtype="uint16")
    wide[:, 2:] = 4000
    image(tmp_path / "img/a/wide.png", wide)
    rgba = np.zeros((4, 4, 4), dtype="uint8")
    rgba[..., :3] = 200
    rgba[:, 2:, 3] = 255  # left half fully transparent
    image(tmp_path / "img/b/alpha.png", rgba)
    samples = read(tmp_path, "kind: images\npath: img\nsize: [4, 4]")
    assert samples.info["modes"] == {"I;16": 1, "RGBA": 1}
    x = samples.load(np.array([0, 1]))[..., 0]
    assert x[0].tolist() == [[0, 0, 255, 255]] * 4
    assert x[1].tolist() == [[0, 0, 200, 200]] * 4


def test_images_every_bad_file_is_listed_with_its_reason(tmp_path):
    image(tmp_path / "img/a/ok.png", gray(1))
    noise = np.random.default_rng(0).integers(0, 255, size=(40, 50), dtype="uint8")
    good = image(tmp_path / "img/b/ok.png", noise).read_bytes()
    (tmp_path / "img/a/empty.png").write_bytes(b"")
    (tmp_path / "img/a/cut.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "img/b/fake.jpg").write_bytes(b"this is text, not a JPEG")
    error = data_error(tmp_path, "kind: images\npath: img")
    assert error.exit_code == 3
    assert error.message.startswith("3 image file(s) cannot be used;")
    img = tmp_path / "img"
    assert error.details == [
        f"{img / 'a/cut.png'}: truncated: image file is truncated; the file was cut short "
        "(copy it again)",
        f"{img / 'a/empty.png'}: the file is empty (0 bytes)",
        f"{img / 'b/fake.jpg'}: not a PNG or JPEG image (the file's content is not recognised)",
    ]


def test_images_empty_folder_and_file_path_are_data_errors(tmp_path):
    (tmp_path / "img/a").mkdir(parents=True)
    assert "PNG or JPEG images found in" in data_error(tmp_path, "kind: images\npath: img").message
    (tmp_path / "x.png").write_bytes(b"")
    error = data_error(tmp_path, "kind: images\npath: x.png")
    assert "is a file; images need a folder" in error.message
    error = data_error(tmp_path, "kind: images\npath: nowhere")
    assert error.message.startswith(
        f"data not found: nowhere. Check data.path ({tmp_path / 'exp.yaml'}:4)"
    )


# images: labels CSV


@pytest.fixture
def labelled_images(tmp_path):
    for name, value in [("p1/a.png", 10), ("p1/b.png", 20), ("p2/c.png", 30)]:
        image(tmp_path / "img" / name, gray(value))
    labels(
        tmp_path,
        {
            "id": ["p2/c.png", "p1/a.png", "p1/b.png"],
            "afib": [1, 0, "true"],
            "lbbb": [0, 0, 1],
            "patient": ["p2", "p1", "p1"],
        },
    )
    return tmp_path


def test_images_labels_csv_multilabel_and_group(labelled_images):
    samples = read(
        labelled_images,
        "kind: images\npath: img\nlabels: labels.csv\ntarget: [afib, lbbb]\ngroup: patient\n"
        "size: [4, 4]",
    )
    table = samples.table
    assert list(table.columns) == ["id", "afib", "lbbb", "patient"]
    assert table["id"].tolist() == ["p2/c.png", "p1/a.png", "p1/b.png"]
    assert table["afib"].tolist() == ["1", "0", "true"]  # as read: not encoded here
    assert table["lbbb"].tolist() == [0, 0, 1]
    assert table["patient"].tolist() == ["p2", "p1", "p1"]
    assert samples.load(np.array([0]))[0, 0, 0, 0] == 30
    assert (
        samples.where(1) == f"{labelled_images / 'img/p1/a.png'} ({labelled_images}/labels.csv:3)"
    )
    assert samples.files[-1] == labelled_images / "labels.csv"
    assert len(samples.files) == 4
    assert samples.info["layout"] == "labels"


def test_multilabel_cells_must_be_0_or_1(labelled_images):
    labels(
        labelled_images,
        {"id": ["p2/c.png", "p1/a.png", "p1/b.png"], "afib": [1, "yes", 2], "lbbb": [0, 0, 1]},
    )
    error = data_error(
        labelled_images, "kind: images\npath: img\nlabels: labels.csv\ntarget: [afib, lbbb]"
    )
    csv = labelled_images / "labels.csv"
    assert error.message.startswith("2 label cell(s) are missing or invalid")
    assert error.details == [
        f"{labelled_images / 'img/p1/a.png'} ({csv}:3): target column 'afib' is 'yes', not 0/1 "
        "(or true/false)",
        f"{labelled_images / 'img/p1/b.png'} ({csv}:4): target column 'afib' is '2', not 0/1 "
        "(or true/false)",
    ]


def test_labels_and_files_that_do_not_match_are_both_listed(labelled_images):
    image(labelled_images / "img/p3/d.png", gray(1))
    labels(
        labelled_images,
        {"id": ["p1/a.png", "p1/b.png", "p2/c.png", "p9/z.png"], "label": [0, 1, 0, 1]},
    )
    error = data_error(labelled_images, "kind: images\npath: img\nlabels: labels.csv")
    img = labelled_images / "img"
    assert "1 labels row(s) without a file, 1 file(s) without a labels row" in error.message
    assert error.details == [
        f"{labelled_images / 'labels.csv'}:5: id 'p9/z.png' has no image file in {img}",
        f"{img / 'p3/d.png'}: no row with id 'p3/d.png' in {labelled_images / 'labels.csv'}",
    ]


def test_unknown_target_column_is_a_config_error_with_did_you_mean(labelled_images):
    error = config_error(
        labelled_images, "kind: images\npath: img\nlabels: labels.csv\ntarget: [afib, lbb]"
    )
    assert error.exit_code == 2
    config = labelled_images / "exp.yaml"
    assert error.details == [
        f"{config}:6: data.target: column 'lbb' is not in {labelled_images / 'labels.csv'}. "
        "Did you mean 'lbbb'? Columns: id, afib, lbbb, patient"
    ]


def test_folder_per_class_cannot_hold_a_group(class_folders):
    error = config_error(class_folders, "kind: images\npath: img\ngroup: patient")
    assert error.message.startswith("a group column needs a labels CSV")
    assert error.where == f"{class_folders / 'exp.yaml'}:5"


def test_labels_csv_that_cannot_be_read(labelled_images):
    csv = labelled_images / "labels.csv"
    csv.write_bytes("id,label\np1/a.png,caf\xe9\n".encode("latin-1"))
    error = data_error(labelled_images, "kind: images\npath: img\nlabels: labels.csv")
    assert str(error) == (
        f"{csv}:2: the file is not valid UTF-8 text (byte 21: b'\\xe9\\n'); save it as UTF-8"
    )
    csv.write_text("id,label,label\np1/a.png,0,1\n")
    error = data_error(labelled_images, "kind: images\npath: img\nlabels: labels.csv")
    assert str(error) == f"{csv}:1: column 'label' appears twice in the header; rename one of them"
    error = data_error(labelled_images, "kind: images\npath: img\nlabels: nope.csv")
    assert error.message.startswith("labels file not found: nope.csv. Check data.labels")


def test_one_column_in_two_roles_is_a_config_error(labelled_images):
    error = config_error(
        labelled_images, "kind: images\npath: img\nlabels: labels.csv\ngroup: label"
    )
    assert error.message == (
        "each column can have one role only: data.target and data.group are the same column 'label'"
    )


def test_duplicate_ids_are_listed_with_every_line(labelled_images):
    labels(
        labelled_images,
        {"id": ["p1/a.png", "p1/b.png", "p2/c.png", "p1/a.png"], "label": [0, 1, 0, 1]},
    )
    error = data_error(labelled_images, "kind: images\npath: img\nlabels: labels.csv")
    csv = labelled_images / "labels.csv"
    assert error.message.startswith("1 id(s) appear more than once")
    assert error.details == [f"id 'p1/a.png': {csv}:2, {csv}:5"]


def test_missing_target_and_group_values_are_listed(labelled_images):
    labels(
        labelled_images,
        {
            "id": ["p1/a.png", "p1/b.png", "p2/c.png"],
            "label": ["x", None, "y"],
            "pid": ["1", "2", None],
        },
    )
    error = data_error(labelled_images, "kind: images\npath: img\nlabels: labels.csv\ngroup: pid")
    csv = labelled_images / "labels.csv"
    img = labelled_images / "img"
    assert error.details == [
        f"{img / 'p1/b.png'} ({csv}:3): target column 'label' is empty",
        f"{img / 'p2/c.png'} ({csv}:4): group column 'pid' is empty",
    ]


def test_split_column_and_unsupervised_table(labelled_images):
    labels(
        labelled_images,
        {"id": ["p1/a.png", "p1/b.png", "p2/c.png"], "part": ["train", "val", "test"]},
    )
    samples = read(
        labelled_images,
        "kind: images\npath: img\nlabels: labels.csv\ntarget: null\n"
        "split: {method: column, column: part}",
    )
    assert list(samples.table.columns) == ["id", "part"]
    assert samples.table["part"].tolist() == ["train", "val", "test"]


# signals


def test_signals_npy_with_labels_in_any_order(tmp_path):
    x = np.arange(12, dtype="float64").reshape(4, 3)
    np.save(tmp_path / "ecg.npy", x)
    labels(tmp_path, {"id": [2, 0, 3, 1], "rhythm": ["af", "sr", "sr", "af"]})
    samples = read(tmp_path, "kind: signals\npath: ecg.npy\nlabels: labels.csv\ntarget: rhythm")
    assert list(samples.table.columns) == ["id", "rhythm"]
    assert samples.table["id"].tolist() == ["2", "0", "3", "1"]
    out = samples.load(np.array([0, 3]))
    assert out.dtype == np.float32 and out.shape == (2, 3, 1)
    assert out[:, :, 0].tolist() == [[6, 7, 8], [3, 4, 5]]
    assert samples.where(0) == f"{tmp_path / 'ecg.npy'}[2] ({tmp_path / 'labels.csv'}:2)"
    assert samples.files == [tmp_path / "ecg.npy", tmp_path / "labels.csv"]
    assert samples.info["layout"] == "array" and samples.info["length"] == 3


def test_npy_is_memory_mapped_and_never_unpickled(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 4)))
    assert isinstance(files.open_array(tmp_path / "x.npy"), np.memmap)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot read the file as a NumPy array"):
        files.open_array(tmp_path / "objects.npy")


def test_signals_multichannel_npz_and_row_ids_that_do_not_match(tmp_path):
    np.savez(tmp_path / "one.npz", signals=np.ones((3, 5, 2)))
    labels(tmp_path, {"id": [0, 1, 2], "label": [0, 1, 0]})
    samples = read(tmp_path, "kind: signals\npath: one.npz\nlabels: labels.csv")
    assert samples.shape == (5, 2) and samples.info["channels"] == 2
    np.savez(tmp_path / "two.npz", a=np.ones((3, 5)), b=np.ones(3))
    error = data_error(tmp_path, "kind: signals\npath: two.npz\nlabels: labels.csv")
    assert "holds 2 arrays (a, b)" in error.message
    labels(tmp_path, {"id": ["0", "x", "7", "01", "1"], "label": [0, 1, 0, 1, 0]})
    error = data_error(tmp_path, "kind: signals\npath: one.npz\nlabels: labels.csv")
    csv = tmp_path / "labels.csv"
    assert error.details == [
        f"{csv}:3: id 'x' is not a row number from 0 to 2",
        f"{csv}:4: id '7' is not a row number from 0 to 2",
        f"{csv}:6: id '1' names row 1 again (first at {csv}:5)",
        f"{tmp_path / 'one.npz'}[2]: no labels row has id 2",
    ]


def test_signals_nan_and_inf_rows_are_all_listed(tmp_path):
    x = np.zeros((4, 5))
    x[1, 2] = np.nan
    x[3, 0] = np.inf
    x[3, 1] = np.nan
    np.save(tmp_path / "s.npy", x)
    labels(tmp_path, {"id": [0, 1, 2, 3], "label": [0, 1, 0, 1]})
    error = data_error(tmp_path, "kind: signals\npath: s.npy\nlabels: labels.csv")
    csv = tmp_path / "labels.csv"
    assert error.message.startswith("2 series hold values that are not finite numbers")
    assert error.details == [
        f"{tmp_path / 's.npy'}[1] ({csv}:3): 1 NaN value(s)",
        f"{tmp_path / 's.npy'}[3] ({csv}:5): 1 NaN value(s), 1 infinite value(s)",
    ]


def test_signals_array_with_wrong_dimensions(tmp_path):
    np.save(tmp_path / "s.npy", np.zeros(5))
    error = data_error(tmp_path, "kind: signals\npath: s.npy\ntarget: null")
    assert error.message == (
        "the signals array has shape (5,); expected (records, length) or (records, length, "
        "channels)"
    )
    np.save(tmp_path / "s.npy", np.zeros((3, 1)))
    assert "at least 2" in data_error(tmp_path, "kind: signals\npath: s.npy\ntarget: null").message
    error = config_error(tmp_path, "kind: signals\npath: s.npy")
    assert error.message.startswith("data.target is set but data.labels is not")


@pytest.fixture
def series_csv(tmp_path):
    (tmp_path / "series.csv").write_text(
        "id,t0,t1,t2,t3,label\na,1,2,3,4,x\nb,10,20,,,y\nc,5,6,7,,x\n"
    )
    return tmp_path


def test_signals_csv_rows_pad_to_the_longest(series_csv):
    samples = read(series_csv, "kind: signals\npath: series.csv")
    assert list(samples.table.columns) == ["id", "label"]
    assert samples.table["id"].tolist() == ["a", "b", "c"]
    assert samples.info["length"] == 4 and samples.info["length_from"] == "longest series"
    assert samples.info["original_length"] == {"min": 2, "median": 3.0, "max": 4}
    assert samples.info["shorter"] == 2
    out = samples.load(np.arange(3))
    assert out.shape == (3, 4, 1) and out.dtype == np.float32
    assert out[..., 0].tolist() == [[1, 2, 3, 4], [10, 20, 0, 0], [5, 6, 7, 0]]
    assert samples.where(1) == f"{series_csv / 'series.csv'}:3"


def test_signals_pad_crops_longer_series_at_the_end(series_csv):
    samples = read(series_csv, "kind: signals\npath: series.csv\nlength: 3")
    assert samples.load(np.arange(3))[..., 0].tolist() == [[1, 2, 3], [10, 20, 0], [5, 6, 7]]
    assert samples.info["longer"] == 1 and samples.info["length_from"] == "data.length"


def test_signals_crop_refuses_shorter_series_and_lists_them(series_csv):
    error = data_error(series_csv, "kind: signals\npath: series.csv\nlength: 3\nfit: crop")
    assert error.details == [f"{series_csv / 'series.csv'}:3: 2 values"]
    samples = read(series_csv, "kind: signals\npath: series.csv\nlength: 2\nfit: crop")
    assert samples.load(np.arange(3))[..., 0].tolist() == [[1, 2], [10, 20], [5, 6]]


def test_signals_resample_interpolates_linearly(series_csv):
    samples = read(series_csv, "kind: signals\npath: series.csv\nlength: 7\nfit: resample")
    out = samples.load(np.arange(3))[..., 0]
    np.testing.assert_allclose(out[0], [1, 1.5, 2, 2.5, 3, 3.5, 4])
    np.testing.assert_allclose(out[1], np.linspace(10, 20, 7), rtol=1e-6)
    short = read(series_csv, "kind: signals\npath: series.csv\nlength: 2\nfit: resample")
    np.testing.assert_allclose(short.load(np.array([0]))[0, :, 0], [1, 4])


def test_signals_csv_bad_cells_are_all_listed(tmp_path):
    (tmp_path / "series.csv").write_text(
        "id,t0,t1,t2,label\na,1,oops,3,x\nb,1,,3,y\nc,1e40,2,3,x\nd,7,,,y\n"
    )
    error = data_error(tmp_path, "kind: signals\npath: series.csv")
    csv = tmp_path / "series.csv"
    assert error.details == [
        f"{csv}:2: column 't1' is 'oops', not a number",
        f"{csv}:2: 1 empty or unreadable value(s) inside the series, first in column 't1'; "
        "only trailing cells may be empty",
        f"{csv}:3: 1 empty or unreadable value(s) inside the series, first in column 't1'; "
        "only trailing cells may be empty",
        f"{csv}:4: column 't0' is 1e+40, not a finite 32-bit number",
        f"{csv}:5: the series has 1 value(s); at least 2 needed",
    ]


def test_signals_csv_needs_its_id_column(series_csv):
    error = config_error(series_csv, "kind: signals\npath: series.csv\nid: ID")
    assert "data.id: column 'ID' is not in" in error.details[0]
    assert "Did you mean 'id'?" in error.details[0]


@pytest.fixture
def record_folder(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    np.save(folder / "r1.npy", np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    np.save(folder / "r2.npy", np.array([[7.0, 8.0], [9.0, 10.0]]))
    (folder / "r3.csv").write_text("lead1,lead2\n0.5,1.5\n2.5,3.5\n4.5,5.5\n6.5,7.5\n")
    (folder / "README.md").write_text("ignored")
    labels(folder, {"id": ["r3", "r1", "r2"], "label": ["a", "b", "a"]})
    return tmp_path


def test_signals_one_file_per_record(record_folder):
    samples = read(record_folder, "kind: signals\npath: records\nlabels: records/labels.csv")
    assert samples.table["id"].tolist() == ["r3", "r1", "r2"]
    assert samples.shape == (4, 2)
    out = samples.load(np.arange(3))
    assert out.shape == (3, 4, 2) and out.dtype == np.float32
    assert out[0].tolist() == [[0.5, 1.5], [2.5, 3.5], [4.5, 5.5], [6.5, 7.5]]
    assert out[2].tolist() == [[7, 8], [9, 10], [0, 0], [0, 0]]
    folder = record_folder / "records"
    assert samples.files == sorted(
        [folder / "labels.csv", folder / "r1.npy", folder / "r2.npy", folder / "r3.csv"]
    )
    assert samples.info["ignored_files"] == 1


def test_signal_records_with_bad_values_channels_and_shapes_are_all_listed(record_folder):
    folder = record_folder / "records"
    np.save(folder / "r1.npy", np.array([1.0, np.nan, 3.0]))
    np.save(folder / "r2.npy", np.zeros((2, 2, 2)))
    (folder / "r3.csv").write_text("1,2\n3,x\n")
    np.save(folder / "r4.npy", np.zeros((1, 2)))
    np.save(folder / "r5.npy", np.zeros((3, 3)))
    np.save(folder / "r6.npy", np.zeros((3, 2)))
    ids = ["r1", "r2", "r3", "r4", "r5", "r6"]
    labels(folder, {"id": ids, "label": ["a", "b"] * 3})
    error = data_error(record_folder, "kind: signals\npath: records\nlabels: records/labels.csv")
    csv = folder / "labels.csv"
    assert error.message.startswith("5 problem(s) in the signals")
    assert error.details == [
        f"{folder / 'r1.npy'} ({csv}:2): 1 NaN value(s)",
        f"{folder / 'r2.npy'} ({csv}:3): has shape (2, 2, 2); expected (length,) or (length, "
        "channels)",
        f"{folder / 'r3.csv'}:2: column 2 is 'x', not a number",
        f"{folder / 'r4.npy'} ({csv}:5): the series has 1 value(s); at least 2 are needed",
        f"{folder / 'r5.npy'} ({csv}:6): 3 channel(s); most records have 2",
    ]


def test_signal_files_and_labels_that_do_not_match(record_folder):
    folder = record_folder / "records"
    labels(folder, {"id": ["r1", "r2", "r9", "r8"], "label": ["a", "b", "a", "b"]})
    error = data_error(record_folder, "kind: signals\npath: records\nlabels: records/labels.csv")
    csv = folder / "labels.csv"
    assert error.details == [
        f"{csv}:4: id 'r9' has no signal file in {folder}",
        f"{csv}:5: id 'r8' has no signal file in {folder}",
        f"{folder / 'r3.csv'}: no row with id 'r3' in {csv}",
    ]


# text


def test_text_csv_without_id_uses_row_numbers_and_keeps_text_verbatim(tmp_path):
    (tmp_path / "notes.csv").write_text(
        'note,outcome\n"chest pain, dyspnoea",1\nNA,0\n" leading space",1\n'
    )
    samples = read(tmp_path, "kind: text\npath: notes.csv\ntext: note\ntarget: outcome")
    assert list(samples.table.columns) == ["id", "outcome"]
    assert samples.table["id"].tolist() == ["1", "2", "3"]
    assert samples.table["outcome"].tolist() == [1, 0, 1]
    texts = samples.load(np.array([2, 1, 0]))
    assert texts.dtype == object
    assert texts.tolist() == [" leading space", "NA", "chest pain, dyspnoea"]
    assert samples.shape == ()
    assert samples.info["characters"] == {"min": 2, "median": 14.0, "max": 20}


def test_text_empty_texts_are_listed_with_their_real_lines(tmp_path):
    (tmp_path / "notes.csv").write_text(
        'id,text,label\nn1,"two\nlines",a\nn2,,b\nn3,"  ",a\nn4,fine,b\n'
    )
    error = data_error(tmp_path, "kind: text\npath: notes.csv")
    csv = tmp_path / "notes.csv"
    assert error.message.startswith("2 text(s) are empty or only whitespace")
    assert error.details == [f"{csv}:4: column 'text' is empty", f"{csv}:5: column 'text' is empty"]


def test_text_explicit_id_must_exist(tmp_path):
    (tmp_path / "notes.csv").write_text("record,text,label\nr1,a,x\n")
    error = config_error(tmp_path, "kind: text\npath: notes.csv\nid: recrod")
    assert "data.id: column 'recrod' is not in" in error.details[0]
    assert "Did you mean 'record'?" in error.details[0]
    samples = read(tmp_path, "kind: text\npath: notes.csv\nid: record")
    assert samples.table["id"].tolist() == ["r1"]


def test_text_folder_per_class(tmp_path):
    (tmp_path / "docs/pos").mkdir(parents=True)
    (tmp_path / "docs/neg").mkdir()
    (tmp_path / "docs/pos/a.txt").write_text("good news\n", encoding="utf-8")
    (tmp_path / "docs/pos/b.TXT").write_bytes("\ufeffcafé".encode())
    (tmp_path / "docs/neg/c.txt").write_text("bad news")
    (tmp_path / "docs/neg/.hidden.txt").write_text("")
    samples = read(tmp_path, "kind: text\npath: docs\ntarget: sentiment")
    assert samples.table.to_dict("list") == {
        "id": ["neg/c.txt", "pos/a.txt", "pos/b.TXT"],
        "sentiment": ["neg", "pos", "pos"],
    }
    assert samples.load(np.arange(3)).tolist() == ["bad news", "good news\n", "café"]


def test_text_files_not_utf8_or_empty_are_listed(tmp_path):
    (tmp_path / "docs/pos").mkdir(parents=True)
    (tmp_path / "docs/pos/latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "docs/pos/ok.txt").write_text("fine")
    (tmp_path / "docs/neg").mkdir()
    (tmp_path / "docs/neg/cp.txt").write_bytes(b"\x93quoted\x94")
    error = data_error(tmp_path, "kind: text\npath: docs")
    docs = tmp_path / "docs"
    assert error.details == [
        f"{docs / 'neg/cp.txt'}: not UTF-8 text (byte 0: b'\\x93quo'); save it as UTF-8",
        f"{docs / 'pos/latin.txt'}: not UTF-8 text (byte 3: b'\\xe9'); save it as UTF-8",
    ]
    (tmp_path / "docs/neg/cp.txt").write_text(" \n")
    (tmp_path / "docs/pos/latin.txt").write_text("")
    error = data_error(tmp_path, "kind: text\npath: docs")
    assert error.details == [
        f"{docs / 'neg/cp.txt'}: the text is empty",
        f"{docs / 'pos/latin.txt'}: the text is empty",
    ]


def test_text_unsupervised_folder_takes_every_file(tmp_path):
    (tmp_path / "docs/x").mkdir(parents=True)
    (tmp_path / "docs/top.txt").write_text("one")
    (tmp_path / "docs/x/deep.txt").write_text("two")
    samples = read(tmp_path, "kind: text\npath: docs\ntarget: null")
    assert samples.table.to_dict("list") == {"id": ["top.txt", "x/deep.txt"]}


# volumes


def test_volumes_with_nan_are_listed_where_their_labels_are(tmp_path):
    x = np.zeros((3, 2, 4, 4))
    x[2, 1, 0, 0] = np.nan
    np.save(tmp_path / "v.npy", x)
    labels(tmp_path, {"id": [0, 1, 2], "label": [0, 1, 0]})
    error = data_error(tmp_path, "kind: volumes\npath: v.npy\nlabels: labels.csv")
    assert error.message.startswith("1 volume(s) hold values that are not finite numbers")
    assert error.details == [
        f"{tmp_path / 'v.npy'}[2] ({tmp_path / 'labels.csv'}:4): 1 NaN value(s)"
    ]


def test_volumes_npy_with_labels(tmp_path):
    x = np.arange(3 * 2 * 3 * 4, dtype="int16").reshape(3, 2, 3, 4)
    np.save(tmp_path / "ct.npy", x)
    labels(tmp_path, {"id": [1, 2, 0], "label": [0, 1, 1], "patient": ["a", "b", "c"]})
    samples = read(tmp_path, "kind: volumes\npath: ct.npy\nlabels: labels.csv\ngroup: patient")
    assert list(samples.table.columns) == ["id", "label", "patient"]
    assert samples.shape == (2, 3, 4, 1)
    out = samples.load(np.array([0, 2]))
    assert out.dtype == np.float32 and out.shape == (2, 2, 3, 4, 1)
    assert np.array_equal(out[..., 0], x[[1, 0]].astype("float32"))
    assert samples.info == {
        "layout": "array",
        "volumes": 3,
        "shape": [2, 3, 4, 1],
        "channels": 1,
        "ignored_files": 0,
    }


def test_volume_files_with_other_shapes_and_nan_are_all_listed(tmp_path):
    folder = tmp_path / "vols"
    folder.mkdir()
    for name in ("v1", "v2", "v3"):
        np.save(folder / f"{name}.npy", np.zeros((2, 3, 3)))
    np.save(folder / "v4.npy", np.zeros((2, 4, 4)))
    np.save(folder / "v5.npy", np.zeros((3, 3)))
    bad = np.zeros((2, 3, 3))
    bad[0, 0, 0] = np.nan
    np.save(folder / "v2.npy", bad)
    labels(tmp_path, {"id": ["v1", "v2", "v3", "v4", "v5"], "label": [0, 1, 0, 1, 0]})
    error = data_error(tmp_path, "kind: volumes\npath: vols\nlabels: labels.csv")
    csv = tmp_path / "labels.csv"
    assert "volumes are not resized" in error.message
    assert error.details == [
        f"{folder / 'v2.npy'} ({csv}:3): 1 NaN value(s)",
        f"{folder / 'v4.npy'} ({csv}:5): shape (2, 4, 4, 1) differs from most volumes' "
        "(2, 3, 3, 1)",
        f"{folder / 'v5.npy'} ({csv}:6): has shape (3, 3); expected (depth, height, width) or "
        "(depth, height, width, channels)",
    ]


def test_volume_files_and_labels_that_do_not_match(tmp_path):
    folder = tmp_path / "vols"
    folder.mkdir()
    np.save(folder / "v1.npy", np.ones((2, 2, 2, 3)))
    np.save(folder / "extra.npy", np.ones((2, 2, 2, 3)))
    labels(tmp_path, {"id": ["v1", "gone"], "label": [0, 1]})
    error = data_error(tmp_path, "kind: volumes\npath: vols\nlabels: labels.csv")
    assert error.details == [
        f"{tmp_path / 'labels.csv'}:3: id 'gone' has no volume file in {folder}",
        f"{folder / 'extra.npy'}: no row with id 'extra' in {tmp_path / 'labels.csv'}",
    ]
    labels(tmp_path, {"id": ["v1", "extra"], "label": [0, 1]})
    samples = read(tmp_path, "kind: volumes\npath: vols\nlabels: labels.csv")
    assert samples.load(np.array([1])).shape == (1, 2, 2, 2, 3)


# dispatcher


def test_each_kind_reads_through_the_registry(tmp_path):
    (tmp_path / "t.csv").write_text("a,y\n1,0\n2,1\n")
    config = load_config(
        write_config(tmp_path, "name: t\ndata: {kind: tabular, path: t.csv, target: y}\n")
    )
    samples = read_samples(config)
    assert samples.kind == "tabular" and samples.table["a"].tolist() == [1, 2]
    assert samples.where(1) == f"{tmp_path / 't.csv'}:3"
    with pytest.raises(LookupError, match="unknown data kind 'tables'. Did you mean 'tabular'"):
        kind_of("tables")


def test_readers_do_not_import_tensorflow():
    code = (
        "import sys, dltrain.kinds\n"
        "from dltrain.kinds.images import reader\n"
        "from dltrain.kinds.signals import reader\n"
        "from dltrain.kinds.text import reader\n"
        "from dltrain.kinds.volumes import reader\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"
