"""Writes data/chest_ct_dicom/: synthetic chest CT slices as DICOM, with and without a
lung nodule (run from the repository root; needs pydicom: `pip install 'dltrain[clinical]'`).

No package ships a labelled set of chest CT DICOM files (pydicom's own test files are a
handful of unrelated images), so this makes small, realistic ones: axial slices of a
digital chest phantom in Hounsfield units, stored as a CT scanner stores them (int16,
RescaleSlope 1, RescaleIntercept -1024, 0.7 mm pixels, 2.5 mm slices, the scanner's own
soft-tissue window in the header), with a synthetic patient in the header (PatientID
SYN-0001 ..., a made-up name and birth date) so that the header handling is exercised.

Phantom: an elliptical body (fat -100 HU rim, soft tissue 40 HU), two lungs (-850 HU,
with vessels of 40 HU), the mediastinum and heart (40 HU), the spine (bone 700 HU), the
ribs at the edge, quantum noise (sd 15 HU); a nodule is a solid lesion (30-60 HU, radius 3-5 px)
somewhere in one lung. 60 patients, 4 contiguous slices each (240 files, 64 x 64):
30 patients have a nodule on all 4 slices ("nodule"), 30 none ("clear").

Files: data/chest_ct_dicom/case<NNN>/slice<k>.dcm (folders not named by the patient id,
which would otherwise show in every id) and labels.csv (id: the file's path
relative to the folder, label). Reproducible: NumPy seed 0, UIDs derived from the seed.
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path("data/chest_ct_dicom")
SIZE, PATIENTS, SLICES = 64, 60, 4


def phantom(rng, nodule) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE] / (SIZE - 1) * 2 - 1
    hu = np.full((SIZE, SIZE), -1000.0)
    body = (xx / 0.92) ** 2 + (yy / 0.7) ** 2
    hu[body < 1] = -100.0
    hu[body < 0.85] = 40.0
    for side in (-1, 1):
        lung = ((xx - side * 0.42) / 0.32) ** 2 + ((yy + 0.05) / 0.48) ** 2 < 1
        hu[lung] = -850.0 + rng.normal(0, 30)
        for _ in range(6):
            cy, cx = rng.uniform(-0.4, 0.3), side * 0.42 + rng.uniform(-0.2, 0.2)
            hu[(yy - cy) ** 2 + (xx - cx) ** 2 < 0.0009] = 40.0
    hu[((xx / 0.14) ** 2 + ((yy - 0.45) / 0.12) ** 2) < 1] = 700.0
    ribs = (body > 0.8) & (body < 0.86) & (np.abs(np.sin(np.arctan2(yy, xx) * 7)) > 0.7)
    hu[ribs] = 600.0
    if nodule is not None:
        (cy, cx), r = nodule
        hu[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.uniform(30, 60)
    return hu + rng.normal(0, 15, hu.shape)


def write(path, hu, patient: int, k: int, series_uid: str, study_uid: str) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    sop = f"{series_uid}.{k + 1}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, sop
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
    ds.PatientName, ds.PatientID = f"SYNTHETIC^PATIENT{patient:04d}", f"SYN-{patient:04d}"
    ds.PatientBirthDate, ds.PatientSex = "19600101", "O"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.Modality, ds.Manufacturer = "CT", "dltrain synthetic phantom"
    ds.InstanceNumber = k + 1
    ds.Rows = ds.Columns = SIZE
    ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 2.5
    ds.ImagePositionPatient = [0.0, 0.0, -2.5 * k]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    stored = np.clip(np.round(hu + 1024), -32768, 32767).astype("int16")
    ds.PixelData = stored.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def main() -> None:
    rng = np.random.default_rng(0)
    root = "1.2.826.0.1.3680043.10.1392"  # a made-up prefix for synthetic data
    rows = []
    for p in range(1, PATIENTS + 1):
        has = p % 2 == 0
        side = rng.choice([-1, 1])
        nodule = (
            (rng.uniform(-0.35, 0.3), side * 0.42 + rng.uniform(-0.15, 0.15)),
            rng.uniform(0.1, 0.16),
        )
        for k in range(SLICES):
            hu = phantom(rng, nodule if has else None)
            name = f"case{p:03d}/slice{k + 1}.dcm"
            write(OUT / name, hu, p, k, f"{root}.{p}.2", f"{root}.{p}.1")
            rows.append((name, "nodule" if has else "clear"))
    pd.DataFrame(rows, columns=["id", "label"]).to_csv(OUT / "labels.csv", index=False)


if __name__ == "__main__":
    main()
