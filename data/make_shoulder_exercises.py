"""Regenerates data/shoulder_exercises/ from the copy seglearn ships (run from the repo root).

Needs `seglearn` (not a project dependency: `pip install --no-deps seglearn` in a throwaway
environment is enough, the data file is inside its wheel and `load_watch` only needs
NumPy), plus NumPy, SciPy and pandas.

`seglearn.datasets.load_watch()` gives 140 recordings of a wrist-worn smartwatch's 6-axis
inertial sensor (accelerometer ax, ay, az; gyroscope wx, wy, wz) at 50 Hz, 947 to 2618
samples long: 10 subjects x 7 shoulder-physiotherapy exercises x 2 sides (left, right arm).
To keep the folder small and the array rectangular, each recording is downsampled to 25 Hz
(`scipy.signal.resample_poly(x, 1, 2)`, with its anti-aliasing filter) and the middle 448
samples (17.92 s, several repetitions) are kept. Writes:
- signals.npy: float32, (140, 448, 6), channels in the order ax, ay, az, wx, wy, wz;
- labels.csv: id (row of signals.npy), label (exercise code as seglearn names it), subject
  (participant 1..10, the group for a patient-wise split), side (left/right).
"""

from pathlib import Path

OUT = Path("data/shoulder_exercises")
LENGTH = 448  # samples at 25 Hz; the shortest recording has 474 after downsampling


def main() -> None:
    import numpy as np
    import pandas as pd
    from scipy.signal import resample_poly
    from seglearn.datasets import load_watch

    watch = load_watch()
    series = []
    for x in watch["X"]:
        x25 = resample_poly(np.asarray(x, dtype=np.float64), 1, 2, axis=0)
        start = (len(x25) - LENGTH) // 2
        series.append(x25[start : start + LENGTH])
    signals = np.stack(series).astype(np.float32)
    labels = pd.DataFrame(
        {
            "id": np.arange(len(signals)),
            "label": [watch["y_labels"][int(k)] for k in watch["y"]],
            "subject": np.asarray(watch["subject"]).astype(int),
            "side": np.where(np.asarray(watch["side"]) == 1, "right", "left"),
        }
    )
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "signals.npy", signals)
    labels.to_csv(OUT / "labels.csv", index=False)


if __name__ == "__main__":
    main()
