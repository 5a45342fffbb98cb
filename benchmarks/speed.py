"""Training speed: dltrain with its defaults against hand-written Keras, five workloads.

For each workload the data is written as a user would have it (CSV, PNG folder, NPY,
text CSV), preprocessed by dltrain into a temporary cache, and the *same model* (built by
dltrain's registry, so the architectures cannot drift apart) is trained

  (a) by dltrain: `dltrain.training.loop.run` with dltrain's defaults (its resumable loop
      over shards, steps_per_execution and jit_compile as `train: auto` chooses);
  (b) by hand-written Keras on the same (normalised) training arrays, in four variants:
      `model.fit` on NumPy arrays or on a tf.data pipeline (from_tensor_slices, shuffle,
      batch, prefetch), each with jit_compile off and on; Keras defaults otherwise.

Every arm trains one epoch per round and the arms are interleaved, round after round
(the first round, which traces and compiles, is excluded), so machine noise hits them
alike. Steady-state samples/s = training samples / median epoch time. dltrain's epoch time
counts only its training steps (as the hand-written `fit` without validation does); its
whole epoch with validation and checkpoints is printed beside it.

Then, per workload, two fresh processes, both finding the data already preprocessed (the
cache filled above): the whole `dltrain train` command (3 epochs, every default on: sanity
suite, validation and checkpoints every epoch, test scoring with baselines and 1000
bootstrap resamples, plots, report) against a hand-written script that loads the same
arrays, fits the same model for 3 epochs with `fit(..., validation_data=val)` and
evaluates it on test — wall time and time from process start to the first training step.
Targets: whole command <= 1.5x, first step <= 2x the hand-written script's.

    python benchmarks/speed.py                       # all five, 4 rounds (about 12 min)
    python benchmarks/speed.py --only mlp lstm --rounds 6
    python benchmarks/speed.py --no-commands         # skip the whole-command timing
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name: (data kind, samples, batch, model section, extra data settings)
WORKLOADS = {
    "mlp": dict(
        title="MLP 3x256, 30 features",
        kind="tabular",
        n=40000,
        batch=256,
        model={"architecture": "mlp", "hidden_units": [256, 256, 256]},
        data={},
    ),
    "cnn": dict(
        title="2-D CNN, 28x28x1 images",
        kind="images",
        n=8000,
        batch=128,
        model={"architecture": "cnn", "filters": [32, 64], "batch_norm": False, "dropout": 0.5},
        data={"size": [28, 28], "color": "grayscale"},
    ),
    "cnn1d": dict(
        title="1-D CNN 3 blocks + BN, length 500",
        kind="signals",
        n=4000,
        batch=64,
        model={"architecture": "cnn1d", "filters": [32, 64, 64]},
        data={},
    ),
    "lstm": dict(
        title="LSTM(64), 100x16 sequences",
        kind="signals",
        n=4000,
        batch=64,
        model={"architecture": "lstm", "units": [64]},
        data={},
    ),
    "transformer": dict(
        title="Transformer 2 blocks d=64, 128 tokens",
        kind="text",
        n=4000,
        batch=64,
        model={"architecture": "transformer", "d_model": 64, "heads": 4, "blocks": 2},
        data={"text": "text", "max_tokens": 2000, "max_length": 128},
    ),
}


# ----------------------------------------------------------------------------- data


def write_data(name: str, spec: dict, folder: Path) -> dict:
    """Writes the raw dataset; returns the `data:` section pointing at it."""
    rng = np.random.default_rng(0)
    n = spec["n"]
    y = rng.integers(0, 2, size=n)
    data = {"kind": spec["kind"], "target": "label", **spec["data"]}
    data["split"] = {"method": "stratified", "val": 0.1, "test": 0.1}
    if spec["kind"] == "tabular":
        import pandas as pd

        x = rng.normal(size=(n, 30)) + 0.3 * y[:, None]
        frame = pd.DataFrame(x.round(4), columns=[f"f{i}" for i in range(30)])
        frame["label"] = np.where(y == 1, "sick", "healthy")
        frame.to_csv(folder / "table.csv", index=False)
        data["path"] = str(folder / "table.csv")
    elif spec["kind"] == "images":
        from PIL import Image

        for c in ("a", "b"):
            (folder / "images" / c).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 200, size=(28, 28), dtype=np.uint8)
            if y[i]:
                img[10:18, 10:18] += 50
            Image.fromarray(img).save(folder / "images" / "ab"[y[i]] / f"{i:05d}.png")
        data["path"] = str(folder / "images")
        del data["target"]
    elif spec["kind"] == "signals":
        shape = (500, 1) if name == "cnn1d" else (100, 16)
        x = rng.normal(size=(n, *shape)).astype("float32")
        x[y == 1, : shape[0] // 2] += 0.3
        np.save(folder / "signals.npy", x)
        (folder / "labels.csv").write_text(
            "id,label\n" + "".join(f"{i},{'ab'[v]}\n" for i, v in enumerate(y))
        )
        data["path"] = str(folder / "signals.npy")
        data["labels"] = str(folder / "labels.csv")
    else:
        words = np.array([f"w{i}" for i in range(1500)])
        lines = ["text,label"]
        for v in y:
            toks = words[rng.integers(0, 1500, size=140)]
            if v:
                toks[rng.integers(0, 140, size=5)] = "fever"
            lines.append(f"{' '.join(toks)},{'ab'[v]}")
        (folder / "notes.csv").write_text("\n".join(lines) + "\n")
        data["path"] = str(folder / "notes.csv")
    return data


def write_config(name: str, spec: dict, data: dict, folder: Path, epochs: int) -> Path:
    import yaml

    config = {
        "name": f"bench-{name}",
        "seed": 1,
        "data": data,
        "model": spec["model"],
        "train": {"epochs": epochs, "batch_size": spec["batch"], "early_stopping": None},
    }  # everything else dltrain's defaults: sanity suite, 1000 bootstrap resamples, report
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# ----------------------------------------------------------------------------- arms


class _NoStop:
    received = None
    fitting = False

    def check(self) -> None:
        pass


def determinism(on: bool) -> None:
    """Op determinism is process-wide: each arm runs in its own setting."""
    from tensorflow.python.framework import config as tf_config

    if on:
        tf_config.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()


class DltrainArm:
    """dltrain's own loop with its defaults, one more epoch per call."""

    def __init__(self, config, data, run_dir: Path, label: str = "dltrain (defaults)"):
        self.label = label
        from dltrain.training.framework import seeded
        from dltrain.training.loop import LoopState
        from dltrain.training.session import training_task
        from dltrain.training.setup import feeder, jit_compile, new_model, steps_per_execution

        self.config, self.data, self.run_dir = config, data, run_dir
        task = training_task(config, data.manifest)
        seeded(config)
        n_classes = len(data.manifest["classes"])
        self.model = new_model(config, task, data.transform, data.sample("train").y, n_classes)
        self.feed = feeder(config, data, task)
        self.state = LoopState()
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        self.whole: list[float] = []
        self.choice = (
            f"jit={jit_compile(config)}, steps_per_execution={steps_per_execution(config)}"
        )

    def epoch(self) -> float:
        from dltrain import console
        from dltrain.training import loop

        seconds = []
        config = self.config.model_copy(
            update={"train": self.config.train.model_copy(update={"epochs": self.state.epoch + 1})}
        )
        determinism(self.config.train.deterministic)
        console.out.quiet = True
        started = time.perf_counter()
        try:
            self.state = loop.run(
                self.model,
                config,
                self.data,
                self.feed,
                self.run_dir,
                _NoStop(),
                self.state,
                on_epoch=lambda epoch, row, s: seconds.append(s),
            )
        finally:
            console.out.quiet = False
        self.whole.append(time.perf_counter() - started)
        return seconds[0]


class KerasArm:
    """Hand-written `model.fit` for one epoch on the same arrays."""

    def __init__(self, config, data, x, y, pipeline: str, jit: bool):
        import keras

        from dltrain import tasks
        from dltrain.training.framework import seeded
        from dltrain.training.session import training_task
        from dltrain.training.setup import new_model

        task = training_task(config, data.manifest)
        seeded(config)
        determinism(False)  # as most hand-written code; XLA needs it off under Keras
        n_classes = len(data.manifest["classes"])
        model = new_model(config, task, data.transform, data.sample("train").y, n_classes)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=tasks.get(task).loss,
            metrics=tasks.get(task).keras_metrics(),
            jit_compile=jit,
        )
        self.model, self.x, self.y, self.batch = model, x, y, config.train.batch_size
        self.pipeline = pipeline
        self.label = f"keras {pipeline}, jit {'on' if jit else 'off'}"
        if pipeline == "tf.data":
            import tensorflow as tf

            self.ds = (
                tf.data.Dataset.from_tensor_slices((x, y))
                .shuffle(len(y), seed=1, reshuffle_each_iteration=True)
                .batch(self.batch)
                .prefetch(tf.data.AUTOTUNE)
            )

    def epoch(self) -> float:
        determinism(False)
        started = time.perf_counter()
        if self.pipeline == "numpy":
            self.model.fit(self.x, self.y, batch_size=self.batch, epochs=1, verbose=0)
        else:
            self.model.fit(self.ds, epochs=1, verbose=0, shuffle=False)
        return time.perf_counter() - started


def train_arrays(data, feed):
    split = data.split("train")
    x = split.x.astype("float32") if split.x.dtype == np.uint8 else split.x
    out = feed.eval_batch(x, split.y)
    return out[0], out[1]


def bench_workload(name: str, spec: dict, folder: Path, rounds: int) -> dict:
    from dltrain.config import load_config
    from dltrain.data.cache import preprocess
    from dltrain.training.session import training_task
    from dltrain.training.setup import feeder, jit_compile

    data_section = write_data(name, spec, folder)
    config_path = write_config(name, spec, data_section, folder, epochs=3)
    config = load_config(config_path)
    data = preprocess(config)
    task = training_task(config, data.manifest)
    x, y = train_arrays(data, feeder(config, data, task))
    n = len(y)
    arms = [DltrainArm(config, data, folder / "run")]
    free = config.model_copy(
        update={"train": config.train.model_copy(update={"deterministic": False})}
    )
    if jit_compile(free) != jit_compile(config):  # opting out of determinism changes the default
        arms.append(DltrainArm(free, data, folder / "run-free", "dltrain (deterministic: false)"))
    for pipeline in ("numpy", "tf.data"):
        for jit in (False, True):
            arms.append(KerasArm(config, data, x, y, pipeline, jit))
    times = {arm.label: [] for arm in arms}
    for r in range(rounds + 1):
        order = arms[r % len(arms) :] + arms[: r % len(arms)]
        for arm in order:
            t = arm.epoch()
            if r:  # round 0 traces and compiles
                times[arm.label].append(t)
        print(f"  {name}: round {r} done", file=sys.stderr, flush=True)
    rates = {label: n / statistics.median(ts) for label, ts in times.items()}
    dl = arms[0]
    best_label = max((k for k in rates if k.startswith("keras")), key=rates.get)
    extra = [arm for arm in arms[1:] if isinstance(arm, DltrainArm)]
    return {
        "name": name,
        "title": spec["title"],
        "n": n,
        "batch": spec["batch"],
        "rates": rates,
        "spread": {k: (n / max(ts), n / min(ts)) for k, ts in times.items()},
        "dltrain_whole_epoch": n / statistics.median(dl.whole[1:]),
        "dltrain_choice": dl.choice,
        "best": best_label,
        "ratio": rates[dl.label] / rates[best_label],
        "opt_out": {a.label: (rates[a.label] / rates[best_label], a.choice) for a in extra},
        "config": str(config_path),
    }


# ----------------------------------------------------------------------------- commands

HAND_WRITTEN = textwrap.dedent(
    """
    import os, sys, time, json
    t0 = float(sys.argv[1])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np, keras
    from dltrain import tasks
    from dltrain.config import load_config
    from dltrain.data.cache import preprocess
    from dltrain.training.session import training_task
    from dltrain.training.setup import feeder, new_model
    config = load_config(sys.argv[2])
    data = preprocess(config)
    task = training_task(config, data.manifest)
    feed = feeder(config, data, task)
    def arrays(name):
        split = data.split(name)
        x = split.x.astype("float32") if split.x.dtype == np.uint8 else split.x
        return feed.eval_batch(x, split.y)
    x, y = arrays("train")
    model = new_model(config, task, data.transform, y, len(data.manifest["classes"]))
    model.compile(optimizer="adam", loss=tasks.get(task).loss,
                  metrics=tasks.get(task).keras_metrics())
    first = []
    class First(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if not first:
                first.append(time.time() - t0)
    model.fit(x, y, batch_size=config.train.batch_size, epochs=config.train.epochs,
              validation_data=arrays("val"), verbose=0, callbacks=[First()])
    model.evaluate(*arrays("test"), batch_size=config.train.batch_size, verbose=0)
    print(json.dumps({"first_step": first[0]}))
    """
)

DLTRAIN_CHILD = textwrap.dedent(
    """
    import json, sys, time
    t0 = float(sys.argv[1])
    from dltrain.training import loop
    first = []
    original = loop.run
    def timed_run(model, *args, **kwargs):
        make = model.make_train_function
        def patched(*a, **k):
            make(*a, **k)
            step = model.train_function
            def timed(iterator):
                logs = step(iterator)
                if not first:
                    float(logs["loss"])
                    first.append(time.time() - t0)
                return logs
            model.train_function = timed
        model.make_train_function = patched
        return original(model, *args, **kwargs)
    loop.run = timed_run
    sys.argv = ["dltrain", "train", sys.argv[2]]
    from dltrain.cli import main
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
    print(json.dumps({"first_step": first[0]}), file=sys.stderr)
    """
)


def bench_commands(config_path: Path, folder: Path) -> dict:
    """Both commands find the data preprocessed: the cache that `bench_workload` filled."""
    env = {
        **os.environ,
        "DLTRAIN_CACHE": os.environ["DLTRAIN_CACHE"],
        "DLTRAIN_RUNS": str(folder / "runs"),
        "PYTHONPATH": str(REPO),
    }
    out = {}
    for label, code in (("dltrain", DLTRAIN_CHILD), ("keras", HAND_WRITTEN)):
        t0 = time.time()
        done = subprocess.run(
            [sys.executable, "-c", code, repr(t0), str(config_path)],
            env=env,
            capture_output=True,
            text=True,
            cwd=folder,
        )
        wall = time.time() - t0
        if done.returncode:
            raise SystemExit(f"{label} command failed:\n{done.stdout}\n{done.stderr}")
        stream = done.stderr if label == "dltrain" else done.stdout
        line = [ln for ln in stream.splitlines() if ln.startswith('{"first_step"')][-1]
        out[label] = {"wall": wall, "first_step": json.loads(line)["first_step"]}
    return out


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=4, help="measured epochs per arm")
    parser.add_argument("--no-commands", action="store_true")
    args = parser.parse_args()

    from dltrain import backend

    backend.load()
    results, commands = [], {}
    with tempfile.TemporaryDirectory(prefix="dltrain-speed-") as tmp:
        os.environ["DLTRAIN_CACHE"] = str(Path(tmp) / "cache")
        os.environ["DLTRAIN_RUNS"] = str(Path(tmp) / "runs")
        for name in args.only:
            folder = Path(tmp) / name
            folder.mkdir()
            results.append(bench_workload(name, WORKLOADS[name], folder, args.rounds))
            if not args.no_commands:
                commands[name] = bench_commands(Path(results[-1]["config"]), folder)

    print("\nsteady-state training samples/s (median of", args.rounds, "epochs after the first)")
    labels = ["dltrain (defaults)"] + [k for k in results[0]["rates"] if k.startswith("keras")]
    head = f"{'workload':<38}" + "".join(f"{lab:>24}" for lab in labels)
    print(head + f"{'dltrain / best':>16}")
    for res in results:
        row = f"{res['title']:<38}" + "".join(f"{res['rates'][lab]:>24,.0f}" for lab in labels)
        print(row + f"{res['ratio']:>16.3f}")
    print("\ntarget: dltrain / best hand-written >= 0.95 on every workload")
    for res in results:
        verdict = "met" if res["ratio"] >= 0.95 else "MISSED"
        print(
            f"  {res['name']:<12} {res['ratio']:.3f} {verdict:<7} best: {res['best']}; "
            f"dltrain chose {res['dltrain_choice']}; with validation + checkpoints "
            f"{res['dltrain_whole_epoch']:,.0f} samples/s"
        )
        for label, (ratio, choice) in res["opt_out"].items():
            print(f"  {'':<12} {ratio:.3f}         {label}: {choice}")
    print("\nmin-max samples/s over the measured epochs")
    for res in results:
        spread = "  ".join(f"{k}: {lo:,.0f}-{hi:,.0f}" for k, (lo, hi) in res["spread"].items())
        print(f"  {res['name']:<12} {spread}")
    if commands:
        print("\nfresh process, 3 epochs: wall time and time to the first training step (s)")
        print(
            f"{'workload':<14}{'dltrain wall':>14}{'keras wall':>12}{'ratio':>8}"
            f"{'dltrain 1st step':>18}{'keras 1st step':>16}"
        )
        for name, c in commands.items():
            d, k = c["dltrain"], c["keras"]
            print(
                f"{name:<14}{d['wall']:>14.1f}{k['wall']:>12.1f}{d['wall'] / k['wall']:>8.2f}"
                f"{d['first_step']:>18.1f}{k['first_step']:>16.1f}"
            )
        print(
            "(both find the data preprocessed; dltrain's command also runs the sanity suite, "
            "checkpoints every epoch, scores test with baselines and bootstrap CIs and writes "
            "plots and the report; the hand-written script fits with validation and "
            "evaluates on test)"
        )
        print("\ntargets: whole command <= 1.5x, first step <= 2x the hand-written script")
        for name, c in commands.items():
            wall = c["dltrain"]["wall"] / c["keras"]["wall"]
            first = c["dltrain"]["first_step"] / c["keras"]["first_step"]
            print(
                f"  {name:<12} whole {wall:.2f} {'met' if wall <= 1.5 else 'MISSED':<7}"
                f" first step {first:.2f} {'met' if first <= 2 else 'MISSED'}"
            )


if __name__ == "__main__":
    main()
