"""Writes data/brain_patches_nifti/: the cubes of data/brain_patches/ as NIfTI files (run
from the repository root; needs nibabel: `pip install 'dltrain[clinical]'`).

The same real data as data/brain_patches/ (MNI ICBM152 2009a T1 template cubes, see
data/README.md for its source and licence), one `.nii.gz` per cube, stored as a scanner
export would be: int16 with scl_slope (intensity x 10000), an affine giving the cube's
true position in MNI space at 1 mm, and every other cube written in a different axis
orientation (LAS instead of RAS), which dltrain must undo (it reorients every volume to
RAS+). labels.csv: id (the file name without .nii.gz), label, block.
"""

from pathlib import Path

import numpy as np
import pandas as pd

SOURCE = Path("data/brain_patches")
OUT = Path("data/brain_patches_nifti")


def main() -> None:
    import nibabel as nib

    volumes = np.load(SOURCE / "volumes.npy")  # (250, 12, 12, 12): (x, y, z) of the template
    labels = pd.read_csv(SOURCE / "labels.csv")
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, row in labels.iterrows():
        data = volumes[i]
        affine = np.eye(4)
        affine[:3, 3] = [row.x_mm - 6, row.y_mm - 6, row.z_mm - 6]
        if i % 2:  # LAS: x stored right-to-left
            data = data[::-1]
            affine[0, 0], affine[0, 3] = -1.0, row.x_mm + 5
        image = nib.Nifti1Image(data.astype("float32"), affine)
        image.header.set_data_dtype(np.int16)
        image.header.set_xyzt_units("mm")
        name = f"cube{int(row.id):03d}"
        nib.save(image, str(OUT / f"{name}.nii.gz"))
        rows.append((name, row.label, row.block))
    pd.DataFrame(rows, columns=["id", "label", "block"]).to_csv(OUT / "labels.csv", index=False)


if __name__ == "__main__":
    main()
