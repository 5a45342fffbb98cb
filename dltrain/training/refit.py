"""Training on train+val: the final run of `dltrain tune` with `tune.final: train+val`.

A tuning trial chooses on validation how long to train (its best epoch) and, for a binary
task, the decision threshold. The final run then trains the best config on the train and
val splits together for exactly that many epochs: nothing is validated, nothing stops
early, the last epoch's model is kept, the threshold is frozen at the trial's value, and
the test split is scored once, as in every run.

`Refit` is how such a run was set up: refit.json in its folder (written before config.yaml,
read again by `dltrain resume`) and the "refit" entry of its metrics.json. `train_and_val`
is the processed dataset as the run sees it: one training split made of the train split's
shards and the val split's. The fitted statistics (normalisation, vocabulary) stay those
fitted on the train split only: the cache is the one the trials used, and the test split
is untouched either way.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from dltrain import runs
from dltrain.data.cache import Processed
from dltrain.errors import RunError

REFIT_JSON = "refit.json"
IN_SAMPLE = (
    "in-sample: the model was trained on the val split, so its val metrics are not an "
    "estimate; the threshold's validation figures are the trial's (operating_point)"
)


@dataclass(frozen=True)
class Refit:
    """How a run trained on train+val was chosen.

    Attributes:
        epochs: the epochs trained, chosen on validation.
        chosen_by: who chose them, e.g. "trial 3 of study 'ecg'".
        epochs_from: how, e.g. "its best validation epoch".
        threshold: the frozen decision threshold (binary tasks), or None.
        operating_point: the threshold as chosen on the trial's validation split (rule,
            validation sensitivity and specificity there), or None.
    """

    epochs: int
    chosen_by: str
    epochs_from: str
    threshold: float | None = None
    operating_point: dict | None = None

    def summary(self) -> str:
        """One sentence for the report, e.g. "trained on train+val for 12 epochs chosen on
        validation by trial 3 of study 'ecg' (its best validation epoch); threshold 0.42
        chosen on validation (youden)"."""
        text = (
            f"trained on train+val for {self.epochs} epoch{'s' * (self.epochs != 1)} chosen "
            f"on validation by {self.chosen_by} ({self.epochs_from})"
        )
        point = self.operating_point or {}
        if self.threshold is not None and point.get("chosen_on") == "config":
            text += f"; threshold {self.threshold:.4g} as configured (evaluate.threshold)"
        elif self.threshold is not None:
            text += f"; threshold {self.threshold:.4g} chosen on validation ({point.get('rule')})"
        return text

    def write(self, run_dir: Path) -> None:
        """refit.json: what `read` gives back (resuming the run)."""
        runs.write_json(run_dir / REFIT_JSON, asdict(self))

    def as_json(self) -> dict:
        """metrics.json's "refit": these fields, what was trained on, the summary."""
        return {
            **asdict(self),
            "trained_on": ["train", "val"],
            "val_metrics": IN_SAMPLE,
            "summary": self.summary(),
        }


def read(run_dir: Path) -> Refit | None:
    """The run's `Refit`, or None for a run trained as configured (no refit.json)."""
    path = run_dir / REFIT_JSON
    if not path.exists():
        return None
    data = runs.read_json(path)
    try:
        return Refit(**data)
    except TypeError:
        raise RunError(
            f"{path} is not what dltrain wrote (fields {sorted(data)}); the run cannot be "
            "resumed as a train+val run"
        ) from None


class TrainAndVal(Processed):
    """A processed dataset whose training split is its train and val splits together
    (`shards("train")`); the val and test splits are as stored."""

    def shards(self, name: str) -> list[Path]:
        if name == "train":
            return [*super().shards("train"), *super().shards("val")]
        return super().shards(name)


def train_and_val(data: Processed) -> TrainAndVal:
    """`data` seen by a run trained on train+val: its manifest's "train" entry describes
    both splits (rows, shard sizes in `shards("train")` order, class counts, a hash of the
    two splits' hashes), and "trained_on" says so."""
    split = data.manifest["split"]
    train, val = split["train"], split["val"]
    both = {
        "rows": train["rows"] + val["rows"],
        "sha256": hashlib.sha256((train["sha256"] + val["sha256"]).encode()).hexdigest(),
        "shard_sizes": [*train["shard_sizes"], *val["shard_sizes"]],
        "of": ["train", "val"],
    }
    if "class_counts" in train:
        counts = train["class_counts"]
        both["class_counts"] = {c: n + val["class_counts"][c] for c, n in counts.items()}
    if "groups" in train:  # groups never span two splits
        both["groups"] = train["groups"] + val["groups"]
    manifest = {**data.manifest, "split": {**split, "train": both}, "trained_on": ["train", "val"]}
    return TrainAndVal(data.path, manifest, data.hit)
