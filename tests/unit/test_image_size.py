"""`data.size` unset: the images' own size when they share one (nothing is upsampled), else a
config error listing the sizes; a size that is set is kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from dltrain.config import load_config
from dltrain.errors import ConfigError
from dltrain.kinds import read
from tests.conftest import REPO, write_config


def images(folder, sizes: dict[str, tuple[int, int]]):
    """One grayscale PNG per (name, (height, width)), in class folders a/ and b/."""
    for i, (name, (height, width)) in enumerate(sizes.items()):
        path = folder / "img" / "ab"[i % 2] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((height, width), 10 * i, dtype="uint8")).save(path)


def config(folder, data: str = ""):
    text = f"name: t\ndata: {{kind: images, path: img{data}}}\nmodel: {{architecture: cnn}}\n"
    return load_config(write_config(folder, text))


def test_images_of_one_size_keep_it(tmp_path):
    images(tmp_path, {f"{i}.png": (28, 20) for i in range(4)})
    samples = read(config(tmp_path))
    assert samples.shape == (28, 20, 1)
    assert samples.load(np.arange(1)).shape == (1, 28, 20, 1)
    assert samples.info["size"] == [28, 20]
    assert samples.info["size_from"] == "the images (all one size)"


def test_a_set_size_is_kept(tmp_path):
    images(tmp_path, {f"{i}.png": (28, 20) for i in range(4)})
    samples = read(config(tmp_path, ", size: [8, 6]"))
    assert samples.shape == (8, 6, 1) and samples.info["size_from"] == "data.size"
    digits = load_config(REPO / "configs" / "digits.yaml")
    assert digits.data.size == (16, 16)


def test_images_of_several_sizes_need_data_size(tmp_path):
    images(tmp_path, {"1.png": (28, 28), "2.png": (28, 28), "3.png": (28, 28), "4.png": (30, 20)})
    with pytest.raises(ConfigError) as info:
        read(config(tmp_path))
    error = info.value
    assert error.exit_code == 2 and error.where.endswith("exp.yaml:2")
    assert "data.size is not set and the images have 2 different sizes" in error.message
    assert "set data.size: [height, width]" in error.message.lower()
    assert "[28, 28], the most common" in error.message
    assert error.details[0].startswith("28x28: 3 image(s), e.g. ")
    assert error.details[1].startswith("30x20: 1 image(s), e.g. ") and "4.png" in error.details[1]


def test_a_shared_size_outside_the_limits_needs_data_size(tmp_path):
    images(tmp_path, {"1.png": (3, 8), "2.png": (3, 8)})
    with pytest.raises(ConfigError, match=r"are all 3x8, outside 4..4096 pixels per side"):
        read(config(tmp_path))
