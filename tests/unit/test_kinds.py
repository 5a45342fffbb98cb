"""The data-kind registry and the per-format decoders: names agree with the config, a new
file format is one module, and the registry stays cheap to import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import dltrain.kinds.images.decoders as image_decoders
from dltrain.config import load_config
from dltrain.config.base import union_members, union_tags
from dltrain.config.data import DataConfig
from dltrain.errors import DataError
from dltrain.kinds import KINDS, kind_of
from dltrain.kinds.decoders import discover
from dltrain.models import ARCHITECTURES
from dltrain.models.specs import DATA_KINDS
from tests.conftest import REPO, write_config


def test_the_registry_holds_one_kind_per_config_kind_tag():
    assert KINDS.names() == sorted(union_tags(DataConfig, "kind"))
    assert sorted(DATA_KINDS) == KINDS.names()
    for section in union_members(DataConfig):
        name = section.model_fields["kind"].default
        assert KINDS.get(name).config_class is section
        assert kind_of(name).config_class is section and kind_of(name).name == name


def test_the_registry_refuses_a_second_kind_of_one_name():
    with pytest.raises(ValueError, match="data kind 'images' is already registered"):
        KINDS.register("images", object, kind_of("images"))


def test_importing_the_registry_imports_no_reader_or_framework():
    code = (
        "import sys, dltrain.kinds\n"
        "print(sorted(m for m in ('pandas', 'PIL', 'keras', 'tensorflow', 'sklearn') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert out.stdout.strip() == "[]"


def test_decoders_are_the_modules_of_each_kinds_package_in_name_order():
    found = {name: [d.name for d in kind_of(name).decoders] for name in KINDS.names()}
    assert found == {
        "images": ["dicom", "png_jpeg"],
        "signals": ["csv", "edf", "npy", "wfdb"],
        "tabular": [],
        "text": ["txt"],
        "volumes": ["dicom", "nifti", "npy"],
    }


# a new image format: one module in dltrain/kinds/images/decoders (here added from tmp_path)

GRAY_DECODER = '''
"""A made-up format for the test: "GRAY <width> <height>" then one byte per pixel."""

from pathlib import Path

from dltrain.errors import DataError
from dltrain.kinds.images import ImageDecoder, Picture


class Gray(ImageDecoder):
    name = "gray"
    suffixes = (".gray",)
    formats = "GRAY"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"GRAY ")

    def read(self, path: Path) -> Picture:
        import numpy as np
        from PIL import Image

        data = Path(path).read_bytes()
        header, _, pixels = data.partition(b"\\n")
        try:
            _, width, height = header.split()
            shape = (int(height), int(width))
            image = Image.fromarray(np.frombuffer(pixels, "uint8").reshape(shape))
        except ValueError:
            raise DataError("not a GRAY image", where=str(path)) from None
        return Picture(image, "GRAY", "L", (int(width), int(height)), {"made_by": "test"})


DECODER = Gray()
'''


def gray(path: Path, value: int, size=(6, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    path.write_bytes(f"GRAY {width} {height}\n".encode() + bytes([value] * (width * height)))
    return path


@pytest.fixture
def gray_decoder(tmp_path, monkeypatch):
    """The GRAY decoder as one more module of the images' decoders package."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "gray.py").write_text(textwrap.dedent(GRAY_DECODER))
    monkeypatch.setattr(image_decoders, "__path__", [*image_decoders.__path__, str(folder)])
    yield
    sys.modules.pop("dltrain.kinds.images.decoders.gray", None)


def config_in(folder: Path, data: str):
    body = textwrap.indent(textwrap.dedent(data).strip(), "  ")
    kind = yaml.safe_load(data)["kind"]
    model = ARCHITECTURES.supporting(kind)[0]
    return load_config(
        write_config(folder, f"name: t\ndata:\n{body}\nmodel:\n  architecture: {model}\n")
    )


def test_a_new_image_format_is_one_decoder_module(tmp_path, gray_decoder):
    assert [d.name for d in kind_of("images").decoders] == ["dicom", "gray", "png_jpeg"]
    gray(tmp_path / "img/a/1.gray", 40)
    (tmp_path / "img/b").mkdir()
    Image.fromarray(np.full((4, 6), 200, dtype="uint8")).save(tmp_path / "img/b/2.png")
    gray(tmp_path / "img/b/headerless", 90)  # no suffix: recognised by its content
    (tmp_path / "img/b/notes.txt").write_text("not an image")
    config = config_in(tmp_path, "kind: images\npath: img\nsize: [4, 6]")
    images = kind_of("images")
    samples = images.read(config)
    assert samples.table["id"].tolist() == ["a/1.gray", "b/2.png", "b/headerless"]
    assert samples.info["formats"] == {"GRAY": 2, "PNG": 1}
    assert samples.info["ignored_files"] == 1
    x = samples.load(np.arange(3))
    assert [int(v) for v in x[:, 0, 0, 0]] == [40, 200, 90]
    transform = images.fit(config, samples, np.arange(3), _no_target())
    new = images.read_new(tmp_path / "img/a/1.gray", config, transform)
    assert np.array_equal(images.inputs(transform, new, new.load(np.arange(1))), x[:1] * 1.0)


def test_a_file_the_new_decoder_refuses_is_listed_with_its_reason(tmp_path, gray_decoder):
    gray(tmp_path / "img/a/1.gray", 40)
    (tmp_path / "img/a/2.gray").write_bytes(b"GRAY 6 four\n")
    config = config_in(tmp_path, "kind: images\npath: img\ntarget: null")
    with pytest.raises(DataError, match="1 image file") as info:
        kind_of("images").read(config)
    assert info.value.details == [f"{tmp_path / 'img/a/2.gray'}: not a GRAY image"]


def test_a_decoder_module_without_DECODER_is_refused(tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("X = 1\n")
    monkeypatch.setattr(image_decoders, "__path__", [*image_decoders.__path__, str(tmp_path)])
    try:
        with pytest.raises(TypeError, match="broken defines no DECODER"):
            discover("dltrain.kinds.images.decoders")
    finally:
        sys.modules.pop("dltrain.kinds.images.decoders.broken", None)


def test_two_decoders_claiming_one_suffix_are_refused(tmp_path, monkeypatch):
    (tmp_path / "other_png.py").write_text(
        "from dltrain.kinds.images import ImageDecoder\n\n\n"
        "class OtherPng(ImageDecoder):\n    name = 'other_png'\n    suffixes = ('.png',)\n\n\n"
        "DECODER = OtherPng()\n"
    )
    monkeypatch.setattr(image_decoders, "__path__", [*image_decoders.__path__, str(tmp_path)])
    try:
        with pytest.raises(ValueError, match="'other_png' and 'png_jpeg' .* both claim '.png'"):
            discover("dltrain.kinds.images.decoders")
    finally:
        sys.modules.pop("dltrain.kinds.images.decoders.other_png", None)


def _no_target():
    from dltrain.data.targets import Targets

    return Targets("reconstruction", [], None, None)


def test_data_paths_are_taken_from_the_working_directory_then_the_config_folder(
    tmp_path, monkeypatch
):
    from dltrain.kinds.paths import resolve

    (tmp_path / "cwd").mkdir()
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs/t.csv").write_text("a,y\n1,0\n")
    monkeypatch.chdir(tmp_path / "cwd")
    config_file = write_config(
        tmp_path / "configs", "name: t\ndata: {kind: tabular, path: t.csv, target: y}\n"
    )
    config = load_config(config_file)
    assert config.folder("data.path") == tmp_path / "configs"
    assert resolve(config, "data.path") == tmp_path / "configs/t.csv"
    (tmp_path / "cwd/t.csv").write_text("a,y\n1,0\n")
    assert resolve(config, "data.path") == Path("t.csv")  # the working directory first
    overridden = load_config(config_file, ["data.path=other.csv"])
    assert overridden.folder("data.path") is None  # --set: the working directory only
    (tmp_path / "configs/other.csv").write_text("a,y\n1,0\n")
    assert resolve(overridden, "data.path") == Path("other.csv")


# a new signal record format: training's folder layout and predict, through one module

SIG_DECODER = '''
"""A made-up record format for the test: one line per channel, values separated by spaces."""

from pathlib import Path

from dltrain.kinds.decoders import Decoded, Decoder


class Sig(Decoder):
    name = "sig"
    suffixes = (".sig",)
    formats = "SIG"

    def decode(self, path: Path, where: str) -> Decoded:
        import numpy as np

        try:
            lines = Path(path).read_text().splitlines()
            rows = [[float(v) for v in line.split()] for line in lines]
            return Decoded(np.asarray(rows, dtype="float64").T, [], {"sampling_rate": 100})
        except ValueError as exc:
            return Decoded(None, [f"{where}: not a SIG record ({exc})"])


DECODER = Sig()
'''


def test_a_new_signal_format_is_one_decoder_module_for_training_and_predict(tmp_path, monkeypatch):
    import dltrain.kinds.signals.decoders as signal_decoders

    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "sig.py").write_text(textwrap.dedent(SIG_DECODER))
    monkeypatch.setattr(signal_decoders, "__path__", [*signal_decoders.__path__, str(plugin)])
    (tmp_path / "recs").mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        values = np.round(rng.normal(size=(2, 5 + i)), 3)
        (tmp_path / f"recs/r{i}.sig").write_text("\n".join(" ".join(map(str, v)) for v in values))
    try:
        signals = kind_of("signals")
        config = config_in(
            tmp_path, "kind: signals\npath: recs\ntarget: null\nlength: 7\nfit: resample"
        )
        samples = signals.read(config)
        assert samples.table["id"].tolist() == [f"r{i}" for i in range(6)]
        assert samples.shape == (7, 2)
        transform = signals.fit(config, samples, np.arange(6), _no_target())
        trained = signals.inputs(transform, samples, samples.load(np.arange(6)))
        for path in (tmp_path / "recs", tmp_path / "recs/r3.sig"):
            new = signals.read_new(path, config, transform)
            x = signals.inputs(transform, new, new.load(np.arange(len(new))))
            rows = [int(i.removesuffix(".sig")[1:]) for i in signals.sample_ids(new)]
            assert np.array_equal(x, trained[rows])
    finally:
        sys.modules.pop("dltrain.kinds.signals.decoders.sig", None)
