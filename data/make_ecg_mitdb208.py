"""Regenerates data/ecg_mitdb208/ from the ECG that SciPy up to 1.9 ships (run from the repo root).

Needs `scipy<1.10` (not a project dependency, and older than the project's own SciPy: use
a throwaway environment, e.g. `pip install "numpy<1.26" "scipy==1.9.3"`). Those SciPy
versions carry the file scipy/misc/ecg.dat inside the package and read it with
`scipy.misc.electrocardiogram()`; from SciPy 1.10 on the function moved to
`scipy.datasets`, which downloads the file instead.

The recording is 5 minutes (108000 samples, 360 Hz, millivolts) of lead MLII of record 208
of the MIT-BIH Arrhythmia Database. It has no labels here (the beat annotations are not
shipped), so this dataset is for unsupervised models (`target: null`, e.g. an
autoencoder). It is cut into 150 consecutive, non-overlapping 2-second windows. Writes:
- signals.npy: float32, (150, 720), in mV;
- labels.csv: id (row of signals.npy) and start_seconds (where the window starts).
"""

from pathlib import Path

OUT = Path("data/ecg_mitdb208")
FS = 360
WINDOW = 2 * FS


def main() -> None:
    import csv

    import numpy as np
    from scipy.misc import electrocardiogram

    ecg = np.asarray(electrocardiogram(), dtype=np.float64)
    n = len(ecg) // WINDOW
    signals = ecg[: n * WINDOW].reshape(n, WINDOW).astype(np.float32)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "signals.npy", signals)
    with open(OUT / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["id", "start_seconds"])
        for i in range(n):
            writer.writerow([i, i * WINDOW // FS])


if __name__ == "__main__":
    main()
