"""The run lock under a tight race: several processes released at once, many times over,
with and without a lock left by a process killed with SIGKILL. At most one may hold it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO

WORKERS = 4
ROUNDS = 40
STALE_EVERY = 5  # every 5th round starts from a lock whose owner was killed with SIGKILL

# Each worker takes part in every round: it waits for the round's go-file, tries the lock
# and, holding it, appends "enter" and (20 ms later) "exit" to a shared log with O_APPEND.
WORKER = """
import os, sys, time
from pathlib import Path
from dltrain.runs import RunLock
from dltrain.errors import RunError

run, sync, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
log = os.open(sync / "log", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
me = os.getpid()
for r in range(rounds):
    while not (sync / f"go-{r}").exists():
        time.sleep(0.0002)
    try:
        with RunLock(run) as lock:
            os.write(log, f"{r} enter {me} {lock.stale_pid or 0}\\n".encode())
            time.sleep(0.02)
            os.write(log, f"{r} exit {me} 0\\n".encode())
    except RunError:
        os.write(log, f"{r} refused {me} 0\\n".encode())
    (sync / f"done-{r}-{me}").touch()
"""

# Takes the lock, says so, and waits to be killed.
HOLDER = """
import sys, time
from pathlib import Path
from dltrain.runs import RunLock

RunLock(Path(sys.argv[1])).__enter__()
print("held", flush=True)
time.sleep(60)
"""


def _python(code: str, *args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, **kwargs)


def _killed_holder(run: Path) -> int:
    """Leaves `run/.lock` as a process killed while holding it leaves it; returns its PID."""
    holder = _python(HOLDER, run, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    return holder.pid


def _wait_for(done, workers: list[subprocess.Popen]) -> None:
    while not done():
        codes = [w.poll() for w in workers]
        assert not any(codes), f"a worker failed: exit codes {codes}"
        assert None in codes or done(), "every worker has finished, but the round has not"
        time.sleep(0.001)


def test_only_one_process_holds_the_lock_at_any_instant(tmp_path):
    run, sync = tmp_path / "run", tmp_path / "sync"
    run.mkdir()
    sync.mkdir()
    workers = [_python(WORKER, run, sync, ROUNDS) for _ in range(WORKERS)]
    killed = {}
    try:
        for r in range(ROUNDS):
            if r % STALE_EVERY == 0:
                killed[r] = _killed_holder(run)
            (sync / f"go-{r}").touch()
            _wait_for(lambda r=r: len(list(sync.glob(f"done-{r}-*"))) == WORKERS, workers)
        for w in workers:
            assert w.wait(timeout=30) == 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()

    events = [line.split() for line in (sync / "log").read_text().splitlines()]
    holder = None
    entered = set()
    for r, what, pid, stale in events:
        if what == "enter":
            assert holder is None, f"round {r}: {pid} took the lock while {holder} held it"
            holder = pid
            if int(r) in killed and int(r) not in entered:  # the first owner of the round
                assert int(stale) == killed[int(r)], f"round {r}: stale PID not reported"
            entered.add(int(r))
        elif what == "exit":
            assert holder == pid
            holder = None
    assert entered == set(range(ROUNDS)), "a round in which nobody could take a free lock"
    assert not (run / ".lock").exists()
