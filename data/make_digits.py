"""Regenerates data/digits/ from the copy scikit-learn ships (run from the repo root).

Writes all 1797 images of `sklearn.datasets.load_digits` (no download: the data is inside
the scikit-learn package) as 8x8 grayscale PNG files, one folder per class:
data/digits/<digit>/<index>.png, where <index> is the 4-digit row number in scikit-learn's
order (so the file name, the sample id, is unique). The 0..16 pixel counts are scaled to
0..255 (round(v * 255 / 16)). Needs scikit-learn and Pillow (both already installed with
the project's dependencies).
"""

from pathlib import Path

OUT = Path("data/digits")


def main() -> None:
    import shutil

    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    if OUT.exists():
        shutil.rmtree(OUT)
    for label in np.unique(digits.target):
        (OUT / str(label)).mkdir(parents=True)
    for index, (image, label) in enumerate(zip(pixels, digits.target, strict=True)):
        Image.fromarray(image).save(OUT / str(label) / f"{index:04d}.png")


if __name__ == "__main__":
    main()
