"""Writes data/ecg_beats_wfdb/: synthetic two-lead ECG records in WFDB format, with beat
annotations (N: normal, V: premature ventricular contraction) in `.atr` files, as PhysioNet
distributes the MIT-BIH Arrhythmia Database (run from the repository root; needs wfdb:
`pip install 'dltrain[clinical]'`).

The wfdb package ships no records, and the one real record bundled here
(data/ecg_mitdb208/) comes without its annotations, so these records are generated with a
simple dynamical model in the spirit of McSharry et al. (ECGSYN, IEEE TBME 50(3), 2003):
each beat a sum of Gaussian P, Q, R, S and T waves at its own RR interval (60-95 bpm with
heart-rate variability), baseline wander, mains-free noise. A PVC comes early (RR x 0.6),
has no P wave, a wide (x 3) QRS of opposite polarity on MLII and a discordant T wave, and
is followed by a compensatory pause. 16 subjects (one record each), 40 s at 360 Hz, leads
MLII and V1, 11-bit format 212 like the MIT-BIH files; 10-30% PVCs per subject. The header
carries a comment "subject: S<n>" (a synthetic id, the group of a subject-level split).
Reproducible: NumPy seed 0.
"""

from pathlib import Path

import numpy as np

OUT = Path("data/ecg_beats_wfdb")
FS, SECONDS, SUBJECTS = 360, 40, 16
WAVES = {  # name: (offset s from R, width s, MLII mV, V1 mV)
    "P": (-0.2, 0.025, 0.15, 0.08),
    "Q": (-0.03, 0.008, -0.12, 0.0),
    "R": (0.0, 0.01, 1.1, -0.4),
    "S": (0.03, 0.01, -0.25, -0.9),
    "T": (0.28, 0.05, 0.3, 0.2),
}


def record(rng):
    n = FS * SECONDS
    t = np.arange(n) / FS
    signal = np.zeros((n, 2))
    pvc_rate = rng.uniform(0.1, 0.3)
    rr0 = 60 / rng.uniform(60, 95)
    beats, symbols, time = [], [], 0.6
    while time < SECONDS - 0.6:
        pvc = rng.random() < pvc_rate and symbols[-1:] != ["V"]
        if pvc:
            time -= 0.4 * rr0
        for name, (offset, width, ml2, v1) in WAVES.items():
            if pvc and name == "P":
                continue
            w = width * (3 if pvc and name in "QRS" else 1)
            sign = -1.3 if pvc and name in "RT" else 1.0
            wave = np.exp(-(((t - time - offset * (1.4 if pvc and name == "T" else 1)) / w) ** 2))
            signal[:, 0] += sign * ml2 * wave
            signal[:, 1] += (-sign if pvc else 1.0) * v1 * wave
        beats.append(int(round(time * FS)))
        symbols.append("V" if pvc else "N")
        time += rr0 * (1.0 + rng.normal(0, 0.04)) + (0.4 * rr0 if pvc else 0.0)
    wander = 0.1 * np.sin(2 * np.pi * rng.uniform(0.15, 0.3) * t + rng.uniform(0, 6))
    signal += wander[:, None] + rng.normal(0, 0.02, signal.shape)
    return signal, np.asarray(beats), symbols


def main() -> None:
    import wfdb

    rng = np.random.default_rng(0)
    OUT.mkdir(parents=True, exist_ok=True)
    for s in range(1, SUBJECTS + 1):
        signal, beats, symbols = record(rng)
        name = f"{100 + s}"
        wfdb.wrsamp(
            name,
            fs=FS,
            units=["mV", "mV"],
            sig_name=["MLII", "V1"],
            p_signal=signal,
            fmt=["212", "212"],
            adc_gain=[200.0, 200.0],
            baseline=[1024, 1024],
            comments=[f"subject: S{s:02d}", "synthetic (dltrain data/make_ecg_beats_wfdb.py)"],
            write_dir=str(OUT),
        )
        wfdb.wrann(name, "atr", beats, symbols, write_dir=str(OUT))


if __name__ == "__main__":
    main()
