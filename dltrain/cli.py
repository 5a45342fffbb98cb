"""The `dltrain` command line: one thin function per command.

Nothing here imports TensorFlow or Keras at module level (`dltrain --help` must be
fast); the commands import the modules that need them when they run.
"""

from __future__ import annotations

import functools
import traceback
from pathlib import Path
from typing import Annotated

import typer

from dltrain import console, views
from dltrain.display import TrainingDisplay
from dltrain.errors import DltrainError, InterruptedRun, UsageError

app = typer.Typer(
    name="dltrain",
    help="Turn a YAML experiment file into a trained, honestly evaluated deep-learning model.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ConfigArg = Annotated[Path, typer.Argument(help="The YAML experiment file.", show_default=False)]


def _run_ids(incomplete: str) -> list[str]:
    """Shell completion of run ids: the folders in the runs folder (no TensorFlow)."""
    from dltrain.runs import run_folders

    try:
        return [p.name for p in run_folders() if p.name.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


RunIdArg = Annotated[
    str,
    typer.Argument(
        help="A run id, e.g. breast-cancer-3.", show_default=False, autocompletion=_run_ids
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value, e.g. --set train.epochs=30 (repeatable)."),
]
KINDS = ("tabular", "images", "signals", "text", "volumes")
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON on standard output (for scripts).")
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Also show TensorFlow's own log lines (hidden by default)."
    ),
]


def handled(fn):
    """Maps dltrain errors to their exit codes with a short message, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DltrainError as exc:
            console.error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.error(InterruptedRun("interrupted by Ctrl-C"))
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as exc:  # a bug: say so, with the traceback for the report
            console.bug(exc, traceback.format_exc())
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@handled
def init(
    data: Annotated[
        Path | None,
        typer.Argument(
            help="A table (CSV/Parquet), an .npy array with labels.csv beside it, or a folder "
            "(one sub-folder per class). Without it, list the bundled example configs.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="The config to write (default: NAME.yaml).")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="tabular, images, signals, text or volumes (default: guessed)."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="The column to predict (default: guessed).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")] = False,
) -> None:
    """Write a commented starter config for a dataset (kind, target and columns guessed)."""
    from dltrain import init as starter

    if data is None:
        views.examples(starter.examples())
        return
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is not a data kind; use one of: {', '.join(KINDS)}")
    path, found = starter.write_starter(data, out, kind=kind, target=target, force=force)
    views.starter(path, found)


@app.command("config")
@handled
def show_config(config: ConfigArg, set_: SetOpt = None, as_json: JsonOpt = False) -> None:
    """Print the resolved config: base configs merged, --set applied, every default filled in."""
    from dltrain.config import dump_config, load_config

    cfg = load_config(config, set_)
    if as_json:
        console.json(cfg.model_dump(mode="json"))
        return
    console.text(dump_config(cfg))


@app.command()
@handled
def preprocess(
    config: ConfigArg,
    set_: SetOpt = None,
    rehash: Annotated[
        bool,
        typer.Option(
            "--rehash",
            help="Read every source file again to fingerprint the data, instead of trusting "
            "the recorded size, times and inode of unchanged files.",
        ),
    ] = False,
) -> None:
    """Validate and split the data, fit preprocessing on train only, and cache the result."""
    from dltrain.config import load_config
    from dltrain.data.cache import preprocess as run_preprocess

    cfg = load_config(config, set_)
    data = run_preprocess(cfg, rehash=rehash)
    views.dataset(data.manifest, data.path, data.hit)


@app.command()
@handled
def check(
    config: ConfigArg,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Validate config and data, show the model's shapes, and run the sanity suite."""
    from dltrain.config import load_config

    cfg = load_config(config, set_)
    with TrainingDisplay(stderr=as_json, summaries=not as_json) as shown:
        _backend(verbose, shown)
        from dltrain.training.check import check as run_check

        result = run_check(cfg, shown)
    from dltrain.training.sanity import raise_on_failure

    if as_json:
        console.json(views.check_json(cfg, result))
    else:
        views.model_layers(cfg, result)
        views.sanity(result.checks)
    raise_on_failure(result.checks)


@app.command()
@handled
def train(
    config: ConfigArg,
    set_: SetOpt = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Run name (default: the config's name).")
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Preprocess (cached), train with validation, test once, and write a run folder."""
    from dltrain.config import load_config

    overrides = list(set_ or []) + ([f"name={name}"] if name is not None else [])
    cfg = load_config(config, overrides)
    argv = ["dltrain", "train", str(config)]
    for item in set_ or []:
        argv += ["--set", item]
    argv += ["--name", name] if name is not None else []
    with TrainingDisplay() as shown:
        _backend(verbose, shown)
        from dltrain.training.session import train as run_train

        result = run_train(cfg, argv, shown)
    if result.worker is not None:  # distributed: a non-chief worker writes no run
        console.info(f"Worker finished ({result.worker}); the chief writes the run.")
        return
    if result.sanity:
        views.sanity(result.sanity)
    views.metrics(result.metrics, f"Run {result.run_id}")
    console.info(f"Run folder: {result.run_dir}")


@app.command()
@handled
def resume(run_id: RunIdArg, verbose: VerboseOpt = False) -> None:
    """Continue an interrupted run exactly where its last checkpoint left off."""
    from dltrain.runs import RunLock, resolve_run
    from dltrain.training.distribute import is_other_worker
    from dltrain.tuning import refuse_trial

    refuse_trial(run_id, "resume")
    run_dir = resolve_run(run_id)
    if not is_other_worker(run_dir):  # distributed: only the chief locks the run
        RunLock(run_dir).ensure_free()  # refuse at once, before loading TensorFlow
    with TrainingDisplay() as shown:
        _backend(verbose, shown)
        from dltrain.training.resume import resume as run_resume

        result = run_resume(run_id, shown)
    if result.worker is not None:  # distributed: a non-chief worker writes no run
        console.info(f"Worker finished ({result.worker}); the chief writes the run.")
        return
    if result.sanity:
        views.sanity(result.sanity)
    views.metrics(result.metrics, f"Run {result.run_id}")
    console.info(f"Run folder: {result.run_dir}")


@app.command()
@handled
def evaluate(
    run_id: RunIdArg,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="External labelled data instead of the test split: a table, or a folder/file "
            "laid out like the training data.",
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Labels CSV for --data (images, signals, text, volumes)."),
    ] = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Recompute a run's test metrics (with 95% CIs) from its saved model, or on external data."""
    if data is None:
        from dltrain.tuning import refuse_trial

        refuse_trial(run_id, "evaluate")
    _backend(verbose)
    from dltrain.evaluation.evaluate import evaluate_run

    result = evaluate_run(run_id, data, labels)
    if as_json:
        console.json(result)
        return
    views.metrics(result, f"Run {run_id} on {result['data']}")


@app.command()
@handled
def predict(
    run_id: RunIdArg,
    input: Annotated[
        Path,
        typer.Argument(
            help="Data to predict: a table (CSV/Parquet), an image or a folder of images, an "
            ".npy/.npz or CSV of signals, a .txt (one text per line) or CSV of texts, an .npy "
            "of volumes."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the predictions CSV.")] = Path(
        "predictions.csv"
    ),
    verbose: VerboseOpt = False,
) -> None:
    """Predict new data with a run's model and its own fitted preprocessing."""
    _backend(verbose)
    from dltrain.evaluation.evaluate import predict_file

    n, unseen = predict_file(run_id, input, out)
    for column, count in unseen.items():
        console.warn(
            f"{count} row(s) have a {column!r} category not seen in training (encoded as all zeros)"
        )
    console.info(f"Wrote {n} prediction(s) to {out}")


@app.command()
@handled
def export(
    run_id: RunIdArg,
    formats: Annotated[
        list[str],
        typer.Option(
            "--format",
            help="keras, savedmodel, onnx (needs the [onnx] extra) or tflite; repeat it for "
            "several formats.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder to write (default: runs/RUN_ID/exports/FORMAT); with several "
            "formats, each goes to OUT/FORMAT.",
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Export a run's model (SavedModel / ONNX / TFLite / Keras) with its preprocessing sidecar."""
    from dltrain.evaluation.export import FORMATS

    for fmt in formats:
        if fmt not in FORMATS:
            raise UsageError(f"--format {fmt!r} is not a format; use one of: {', '.join(FORMATS)}")
    formats = list(dict.fromkeys(formats))
    _backend(verbose)
    from dltrain.evaluation.export import export_run, export_summary

    for fmt in formats:
        where = out if out is None or len(formats) == 1 else out / fmt
        console.info(export_summary(export_run(run_id, fmt, where)))


@app.command("runs")
@handled
def list_runs(
    study: Annotated[
        str | None,
        typer.Option("--study", help="List the trial runs of this tuning study instead."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List runs with their status and headline test metric."""
    if study is not None:
        views.study_runs(study)
        return
    from dltrain import records
    from dltrain.runs import runs_root

    if as_json:
        console.json([views.run_json(run) for run in records.listed()])
        return
    rows = [[run.id, *records.summary(run)] for run in records.listed()]
    if not rows:
        console.info(f"No runs in {runs_root()}/ yet. Start one with: dltrain train CONFIG")
        return
    console.table(f"Runs in {runs_root()}/", ["run", "status", "started", "task", "test"], rows)


@app.command()
@handled
def compare(
    run_a: Annotated[
        str, typer.Argument(help="The reference run (A), e.g. breast-cancer-1.", show_default=False)
    ],
    run_b: Annotated[
        str,
        typer.Argument(help="The run compared with it (B): reports B − A.", show_default=False),
    ],
    bootstrap: Annotated[
        int,
        typer.Option("--bootstrap", min=10, max=100_000, help="Paired bootstrap resamples."),
    ] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """Compare two runs on the same test split: paired bootstrap CIs and p-values of B − A."""
    from dltrain.evaluation.compare import compare_runs, summary

    comparison = compare_runs(run_a, run_b, bootstrap)
    if as_json:
        console.json({**comparison.result, "written": str(comparison.path)})
        return
    title, columns, rows, caption = summary(comparison.result)
    console.table(title, columns, rows, caption=caption)
    console.info(f"Written: {comparison.path}")


@app.command()
@handled
def report(run_id: RunIdArg) -> None:
    """(Re)build a finished run's plots and its self-contained HTML report."""
    from dltrain.evaluation.report import report_run

    with TrainingDisplay() as shown:
        shown.phase("report", "plots and report.html")
        path = report_run(run_id, shown)
    console.info(f"Report: {path}")


@app.command()
@handled
def tune(
    config: ConfigArg,
    set_: SetOpt = None,
    trials: Annotated[
        int | None,
        typer.Option("--trials", min=1, help="Trials in the study (default: tune.trials)."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Study database URL, e.g. postgresql://user:pw@host/db for several workers "
            "(default: SQLite in runs/STUDY/).",
        ),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: the config's name).")
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Search tune.space with Optuna (each trial a run, judged on validation), then train the
    best config and test it once. Re-running continues the study; workers may share it."""
    from dltrain.config import load_config

    cfg = load_config(config, set_)
    from dltrain import tuning

    tuning.check_space(cfg)
    name = study or cfg.name
    tuning.study_folder(name)
    if storage is not None:
        tuning.open_storage(storage)  # a bad URL fails now, before TensorFlow loads
    _backend(verbose)
    argv = ["dltrain", "tune", str(config)]
    for item in set_ or []:
        argv += ["--set", item]
    argv += ["--trials", str(trials)] if trials is not None else []
    argv += ["--storage", tuning.redact(storage)] if storage is not None else []  # no password
    argv += ["--study", study] if study is not None else []
    result = tuning.tune(
        cfg,
        config,
        list(set_ or []),
        argv,
        trials=trials,
        storage_url=storage,
        study_name=name,
        reporter=views.StudyDisplay(),
    )
    views.study_result(result)


def _backend(verbose: bool = False, shown=None) -> None:
    """Loads TensorFlow (quietly unless `verbose`), telling `shown` while it does."""
    from dltrain import backend

    if shown is not None and not backend.loaded():
        shown.phase("startup", "loading TensorFlow")
    backend.load(verbose=verbose)


def main() -> None:
    """Entry point of the `dltrain` console script."""
    app()
