"""Regenerates data/breast_cancer.csv from the copy scikit-learn ships (run from the repo root)."""
from sklearn.datasets import load_breast_cancer
import pandas as pd
d = load_breast_cancer(as_frame=True)
df = d.frame.copy()
df.columns = [c.replace(" ", "_") for c in df.columns]
df.insert(0, "sample_id", range(1, len(df) + 1))
df["diagnosis"] = df.pop("target").map({0: "malignant", 1: "benign"})
df.to_csv("data/breast_cancer.csv", index=False, float_format="%.6g")
print(df.shape, df.diagnosis.value_counts().to_dict())
