"""Tiny clinical files written with each format's own library (pydicom, nibabel, wfdb,
pyedflib), carrying identifying header fields that must never reach a run (`PHI`)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

PHI = {
    "name": "Doe^Janet",
    "birth": "19510502",
    "address": "12 Elm Street Springfield",
    "institution": "St Elsewhere Hospital",
    "physician": "House^Gregory",
    "edf_name": "Janet_Doe",
    "edf_birth": "02-MAY-1951",
}
"""Identifying values written into the files' headers; a run must contain none of them,
and no raw patient id (`patient_id`) either."""


def patient_id(i: int) -> str:
    return f"MRN{7000 + i:05d}"


def dicom_slice(
    path: Path,
    pixels: np.ndarray,
    *,
    patient: str,
    series: str,
    study: str | None = None,
    position: float = 0.0,
    photometric: str = "MONOCHROME2",
    window: tuple[float, float] | None = None,
    spacing: float = 0.7,
    thickness: float = 2.5,
    sop: str | None = None,
    with_pixels: bool = True,
    suffix: bool = True,
) -> Path:
    """One CT-like DICOM file (int16 stored, slope 1, intercept -1024) with PHI in its header."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    sop = sop or generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
    ds.PatientName, ds.PatientBirthDate = PHI["name"], PHI["birth"]
    ds.PatientAddress, ds.InstitutionName = PHI["address"], PHI["institution"]
    ds.ReferringPhysicianName = PHI["physician"]
    ds.PatientID = patient
    ds.StudyInstanceUID = study or f"1.2.826.0.1.3680043.8.498.{abs(hash(patient)) % 10**12}"
    ds.SeriesInstanceUID = series
    ds.Modality = "CT"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = thickness
    ds.ImagePositionPatient = [0.0, 0.0, position]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    if with_pixels:
        ds.PixelData = np.ascontiguousarray(pixels.astype("int16")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path if suffix else path.with_suffix("")
    ds.save_as(target, enforce_file_format=True)
    return target


def ct_pixels(rng, label: int, size: int = 16) -> np.ndarray:
    """Stored values (HU + 1024) of a body-like disc, with a bright nodule when `label`."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    hu = np.where(r < size * 0.42, -700.0, -1000.0) + rng.normal(0, 20, (size, size))
    if label:
        cy, cx = rng.integers(size // 3, 2 * size // 3, 2)
        hu[np.hypot(yy - cy, xx - cx) < 2.5] = 60.0
    return np.round(hu + 1024).astype("int16")


def nifti(path: Path, volume: np.ndarray, spacing=(1.0, 1.0, 1.0), flip_x: bool = False) -> Path:
    """A NIfTI-1 file (.nii or .nii.gz) with an affine of the given spacing."""
    import nibabel as nib

    affine = np.diag([*spacing, 1.0])
    if flip_x:
        affine[0, 0] = -affine[0, 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(volume.astype("float32"), affine), str(path))
    return path


def wfdb_record(
    folder: Path, name: str, signal: np.ndarray, fs: float, leads: list[str], beats=None
) -> Path:
    """A WFDB record (.hea + .dat, format 16), and beat annotations (.atr) when given as
    (samples, symbols)."""
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV"] * len(leads),
        sig_name=leads,
        p_signal=signal,
        fmt=["16"] * len(leads),
        adc_gain=[200.0] * len(leads),
        baseline=[0] * len(leads),
        write_dir=str(folder),
        comments=[f"subject: {name[:3]}"],
    )
    if beats is not None:
        samples, symbols = beats
        wfdb.wrann(name, "atr", np.asarray(samples), list(symbols), write_dir=str(folder))
    return folder / f"{name}.hea"


def edf_record(
    path: Path,
    signals: list[np.ndarray],
    rates: list[int],
    labels: list[str],
    *,
    patient: str,
    annotations=(),
) -> Path:
    """An EDF+ file with PHI in its patient fields, and (onset, duration, text) annotations."""
    import pyedflib

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = pyedflib.EdfWriter(str(path), len(signals), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        headers = []
        for signal, rate, label in zip(signals, rates, labels, strict=True):
            headers.append(
                {
                    "label": label,
                    "dimension": "uV",
                    "sample_frequency": rate,
                    "physical_max": float(np.ceil(np.abs(signal).max() + 1)),
                    "physical_min": -float(np.ceil(np.abs(signal).max() + 1)),
                    "digital_max": 32767,
                    "digital_min": -32768,
                }
            )
        writer.setSignalHeaders(headers)
        writer.setPatientCode(patient)
        writer.setPatientName(PHI["edf_name"])
        writer.setBirthdate(datetime.date(1951, 5, 2))
        for onset, duration, text in annotations:
            writer.writeAnnotation(onset, duration, text)
        writer.writeSamples([np.asarray(s, dtype="float64") for s in signals])
    finally:
        writer.close()
    return path


def dicom_images(folder: Path, n: int, *, first_patient: int = 0, seed: int = 0) -> list[tuple]:
    """`n` CT slices (two per patient), half with a nodule; returns (file, label) rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        name = f"img{i:03d}.dcm"
        patient = patient_id(first_patient + i // 2)
        dicom_slice(
            folder / name, ct_pixels(rng, label), patient=patient, series=f"1.2.9.{seed}.{i}"
        )
        rows.append((name, "nodule" if label else "clear"))
    return rows


def dicom_series(folder: Path, n: int, slices: int = 4, seed: int = 1) -> list[tuple]:
    """`n` series of `slices` slices each, one folder and one patient per series."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        for z in range(slices):
            dicom_slice(
                folder / f"s{i:02d}" / f"{z}.dcm",
                ct_pixels(rng, label),
                patient=patient_id(100 + i),
                series=f"1.2.8.{seed}.{i}",
                position=z * 2.5,
            )
        rows.append((f"s{i:02d}", "nodule" if label else "clear"))
    return rows


def nifti_set(folder: Path, n: int, seed: int = 2) -> list[tuple]:
    """`n` small .nii.gz volumes (bright or dark blob), half flipped in x."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        volume = rng.normal(0, 0.3, (6, 6, 6)) + (1.5 if label else 0.0) * np.pad(
            np.ones((2, 2, 2)), 2
        )
        nifti(folder / f"v{i:02d}.nii.gz", volume, spacing=(1.0, 1.0, 2.0), flip_x=i % 3 == 0)
        rows.append((f"v{i:02d}", "lesion" if label else "normal"))
    return rows


def ecg(fs: int, seconds: float, rng, beats_every: float = 0.8):
    """A two-lead ECG-like signal with normal (N) and ventricular (V) beats."""
    n = int(fs * seconds)
    t = np.arange(n) / fs
    beats = np.arange(int(fs * 0.5), n - int(fs * 0.5), int(fs * beats_every))
    symbols = ["V" if rng.random() < 0.35 else "N" for _ in beats]
    signal = rng.normal(0, 0.02, (n, 2))
    for b, s in zip(beats, symbols, strict=True):
        width, height = (0.012, 1.2) if s == "N" else (0.04, -1.6)
        wave = height * np.exp(-(((t - b / fs) / width) ** 2))
        signal[:, 0] += wave
        signal[:, 1] += 0.5 * wave
    return signal, (beats, symbols)


def wfdb_set(folder: Path, n: int, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    for r in range(n):
        signal, beats = ecg(250, 12.0, rng)
        wfdb_record(folder, f"rec{r:02d}", signal, 250, ["MLII", "V1"], beats=beats)


def edf_set(folder: Path, n: int, seed: int = 4) -> list[tuple]:
    """`n` EDF+ recordings (EEG 100 Hz, EOG 50 Hz) with 30-s sleep-stage epochs."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n):
        stages = ["Sleep stage W", "Sleep stage 2"] * 2
        eeg, eog = [], []
        for k, stage in enumerate(stages):
            amp = 3.0 if stage.endswith("W") else 1.0
            eeg.append(rng.normal(0, amp, 30 * 100) + np.sin(np.arange(3000) / (3 + k)))
            eog.append(rng.normal(0, amp, 30 * 50))
        notes = [(30.0 * k, 30.0, s) for k, s in enumerate(stages)]
        edf_record(
            folder / f"night{r:02d}.edf",
            [np.concatenate(eeg), np.concatenate(eog)],
            [100, 50],
            ["EEG Fpz-Cz", "EOG"],
            patient=patient_id(200 + r // 2),
            annotations=notes,
        )
        rows.append((f"night{r:02d}", "test" if r >= n - 4 else "train"))
    return rows
