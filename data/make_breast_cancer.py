"""Regenerates data/breast_cancer.csv from the copy scikit-learn ships (run from the repo root)."""

from sklearn.datasets import load_breast_cancer


def main() -> None:
    frame = load_breast_cancer(as_frame=True).frame.copy()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "sample_id", range(1, len(frame) + 1))
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    frame.to_csv("data/breast_cancer.csv", index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
