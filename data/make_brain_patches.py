"""Regenerates data/brain_patches/ from the MNI152 template nilearn ships (run from the repo root).

Needs `nilearn` (only for its bundled files: `pip install --no-deps nilearn` is enough, it
is not imported) and `nibabel` (to read NIfTI), plus NumPy and pandas. Neither is a
project dependency.

nilearn carries, inside its wheel, the MNI ICBM152 2009a symmetric non-linear template at
1 mm: a skull-stripped T1-weighted average of 152 healthy adults' MRI (197 x 233 x 189,
uint8) and, on the same grid, the template's grey-matter and white-matter probability
maps. There are no per-patient 3-D scans with diagnoses in any package found, so this is
a real 3-D image cut into a patch-classification task whose labels come from the
template's own tissue maps:

- cubes of 12 x 12 x 12 voxels (12 mm) on a regular, non-overlapping grid;
- left hemisphere only (the template is symmetric, so right-hemisphere cubes would be
  mirror copies of left ones and leak between splits);
- label "grey_matter" if the mean grey-matter probability of the central 2 x 2 x 2 voxels
  is >= 0.5 and above the white-matter one, "white_matter" if the mean white-matter
  probability there is >= 0.5; other cubes (CSF, background) are left out;
- 125 cubes drawn per class (NumPy seed 0), in grid order.

Writes volumes.npy (float32, (250, 12, 12, 12), T1 intensity / 255, so 0..1) and
labels.csv: id (row of volumes.npy), label, block (the 48 mm block, 4 x 4 x 4 cubes, that
the cube lies in: a group for a split that keeps neighbouring cubes together) and the
cube centre in MNI millimetres (x_mm, y_mm, z_mm).
"""

from pathlib import Path

OUT = Path("data/brain_patches")
SIZE = 12
PER_CLASS = 125
SEED = 0


def main() -> None:
    import importlib.util

    import nibabel as nib
    import numpy as np
    import pandas as pd

    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("nilearn is not installed: pip install --no-deps nilearn")
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
    images = {
        kind: nib.load(folder / f"mni_icbm152_{kind}_tal_nlin_sym_09a_converted.nii.gz")
        for kind in ("t1", "gm", "wm")
    }
    t1, gm, wm = (np.asarray(images[k].dataobj, dtype=np.float32) / 255.0 for k in images)
    affine = images["t1"].affine
    midline = int(round(np.linalg.solve(affine, [0.0, 0.0, 0.0, 1.0])[0]))  # voxel at x = 0 mm

    half = SIZE // 2
    rows = {"grey_matter": [], "white_matter": []}
    for i in range(0, midline - SIZE + 1, SIZE):  # left hemisphere: x < 0 mm
        for j in range(0, t1.shape[1] - SIZE + 1, SIZE):
            for k in range(0, t1.shape[2] - SIZE + 1, SIZE):
                core = np.s_[
                    i + half - 1 : i + half + 1,
                    j + half - 1 : j + half + 1,
                    k + half - 1 : k + half + 1,
                ]
                g, w = float(gm[core].mean()), float(wm[core].mean())
                if g >= 0.5 and g > w:
                    rows["grey_matter"].append((i, j, k))
                elif w >= 0.5:
                    rows["white_matter"].append((i, j, k))

    rng = np.random.default_rng(SEED)
    chosen = []
    for label, corners in rows.items():
        take = rng.choice(len(corners), size=PER_CLASS, replace=False)
        chosen += [(corners[t], label) for t in take]
    chosen.sort()  # grid order, classes interleaved

    volumes = np.stack(
        [t1[i : i + SIZE, j : j + SIZE, k : k + SIZE] for (i, j, k), _ in chosen]
    ).astype(np.float32)
    centres = np.array([[i + half, j + half, k + half, 1.0] for (i, j, k), _ in chosen])
    mm = centres @ affine.T
    blocks = [f"{i // (4 * SIZE)}-{j // (4 * SIZE)}-{k // (4 * SIZE)}" for (i, j, k), _ in chosen]
    labels = pd.DataFrame(
        {
            "id": np.arange(len(chosen)),
            "label": [label for _, label in chosen],
            "block": blocks,
            "x_mm": mm[:, 0].round(1),
            "y_mm": mm[:, 1].round(1),
            "z_mm": mm[:, 2].round(1),
        }
    )
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "volumes.npy", volumes)
    labels.to_csv(OUT / "labels.csv", index=False)


if __name__ == "__main__":
    main()
