"""`dltrain tune`: an Optuna study over `tune.space`; every trial is a normal run.

The modules, in the order a study runs through them:

- `space`: which config paths may be tuned, a trial's values, a trial's config.
- `storage`: the study database and the ticket protocol on it (the only module that
  uses Optuna internals).
- `trial`: one trial: run folders, training (the only calls into dltrain.training),
  pruning, its value.
- `study`: the loop that takes tickets, the sampler and pruner, finishing the study.
- `outputs`: trials.csv, best.yaml, plots, the final run, the links of runs to studies.
- `reporting`: the `Reporter` a caller passes to hear what happens (nothing here prints).
- `process`: the process-wide state that trials share (Keras' session, the garbage
  collector).
"""

from dltrain.tuning.outputs import BEST_YAML, TRIALS_CSV, refuse_trial, study_folder, study_runs
from dltrain.tuning.reporting import Progress, Reporter, Silent, TrialRow
from dltrain.tuning.space import check_space, suggest, trial_config
from dltrain.tuning.storage import open_storage, redact
from dltrain.tuning.study import TuneResult, open_study, tune

__all__ = [
    "BEST_YAML",
    "TRIALS_CSV",
    "Progress",
    "Reporter",
    "Silent",
    "TrialRow",
    "TuneResult",
    "check_space",
    "open_storage",
    "open_study",
    "redact",
    "refuse_trial",
    "study_folder",
    "study_runs",
    "suggest",
    "trial_config",
    "tune",
]
