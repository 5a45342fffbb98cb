"""Speed (files/s) and peak memory of `dltrain preprocess` on DICOM files at 1x and 10x.

Claim under test (issue 14): the clinical readers stream, so memory stays flat as the
number of files grows. Target: the 10x peak RSS is at most 1.2x the 1x peak, for both
layouts. Speed is reported, not targeted.

Two layouts, each written to a temporary folder at two sizes (by default 2000 and 20000
files; `data.shard_size` 256):
- images: single-frame 64 x 64 CT slices (int16, rescale -1024), a labels CSV keyed by
  file, the group from the DICOM PatientID header (pseudonymised), the lung window;
- series: the same slices as volumes, 8 slices per series (250 and 2500 volumes).
For each, a fresh child process runs `python -m dltrain preprocess CONFIG` with
DLTRAIN_CACHE inside the temporary folder; its wall time gives files/s and its own
`ru_maxrss` (from `os.wait4` on that child alone) the peak RSS.

    python benchmarks/dicom_preprocess.py                 # about 6 minutes on 2 cores
    python benchmarks/dicom_preprocess.py --files 500     # a quick look (500 and 5000)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SLICES = 8


def write_images(root: Path, n: int) -> Path:
    """`n` single-frame files in folders of 100, labels.csv, config.yaml."""
    sys.path.insert(0, str(REPO))
    from tests.clinical_files import ct_pixels, dicom_slice

    rng = np.random.default_rng(0)
    lines = ["id,label"]
    for i in range(n):
        name = f"f{i // 100:04d}/img{i:06d}.dcm"
        pixels = ct_pixels(rng, i % 2, size=64)
        dicom_slice(root / "dcm" / name, pixels, patient=f"P{i // 4:06d}", series=f"1.2.{i}")
        lines.append(f"{name},{'ab'[i % 2]}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return _config(
        root,
        "kind: images\n  path: dcm\n  labels: labels.csv\n  group: PatientID\n"
        "  size: [64, 64]\n  dicom: {window: lung}\n  split: {method: group}",
    )


def write_series(root: Path, n_files: int) -> Path:
    """`n_files / SLICES` series of `SLICES` slices, a folder each; labels by folder."""
    sys.path.insert(0, str(REPO))
    from tests.clinical_files import ct_pixels, dicom_slice

    rng = np.random.default_rng(0)
    lines = ["id,label"]
    for s in range(n_files // SLICES):
        for z in range(SLICES):
            pixels = ct_pixels(rng, s % 2, size=64)
            dicom_slice(
                root / "ser" / f"s{s:05d}" / f"{z}.dcm",
                pixels,
                patient=f"P{s // 2:06d}",
                series=f"1.3.{s}",
                position=2.5 * z,
            )
        lines.append(f"s{s:05d},{'ab'[s % 2]}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return _config(
        root,
        "kind: volumes\n  path: ser\n  labels: labels.csv\n  group: PatientID\n"
        "  dicom: {window: lung}\n  split: {method: group}",
    )


def _config(root: Path, data: str) -> Path:
    path = root / "config.yaml"
    path.write_text(
        f"name: bench\ndata:\n  {data}\n  shard_size: 256\nmodel: {{architecture: "
        f"{'cnn3d' if 'volumes' in data else 'cnn'}}}\n"
    )
    return path


def preprocess(root: Path, config: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one `dltrain preprocess` child."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DLTRAIN_CACHE": str(root / "cache"),
        "DLTRAIN_PSEUDONYM_KEY": str(root / "key"),
    }
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "dltrain", "preprocess", str(config)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"preprocess failed: {child.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="files at 1x (default 2000)")
    args = parser.parse_args()
    print(f"{'layout':8} {'scale':>5} {'files':>7} {'seconds':>8} {'files/s':>8} {'peak MiB':>9}")
    peaks: dict[str, list[float]] = {}
    for layout, write in (("images", write_images), ("series", write_series)):
        for scale in (1, 10):
            n = args.files * scale
            root = Path(tempfile.mkdtemp(prefix=f"dltrain-dicom-{layout}-"))
            try:
                config = write(root, n)
                seconds, peak = preprocess(root, config)
            finally:
                shutil.rmtree(root, ignore_errors=True)
            peaks.setdefault(layout, []).append(peak)
            print(f"{layout:8} {scale:>4}x {n:>7} {seconds:>8.1f} {n / seconds:>8.0f} {peak:>9.0f}")
    for layout, (one, ten) in peaks.items():
        verdict = "met" if ten <= 1.2 * one else "MISSED"
        print(f"{layout}: 10x peak / 1x peak = {ten / one:.2f} (target <= 1.2: {verdict})")


if __name__ == "__main__":
    main()
