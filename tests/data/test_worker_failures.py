"""generate-dataset's worker processes: a worker that dies ends the run promptly with an error
naming the batch (finished files kept, no temp files left), and SIGTERM/SIGINT always stop it.
Each scenario runs in a subprocess with a timeout, so a hang fails the test instead of hanging it."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

CODE = Path(__file__).resolve().parents[2] / "code"

SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    sys.path.insert(0, {code!r})
    from pathlib import Path
    from cnsr.data.generate import RenderSettings, Task, run_tasks, WorkerDied
    from cnsr.io.atomic import atomic_path

    MODE = sys.argv[2]

    def fake_render(task):
        # stands in for rendering: a temp file in flight, then the finished file
        with atomic_path(task.out) as tmp:
            tmp.write_bytes(b"partial")
            if task.index == 2 and MODE == "die":
                os.kill(os.getpid(), signal.SIGKILL)     # as the OOM killer
            if MODE == "hang" and task.index >= 1:
                print("busy", flush=True)
                time.sleep(120)
            time.sleep(0.05)
            tmp.write_bytes(b"whole")
        return 1

    if __name__ == "__main__":
        out = Path(sys.argv[1])
        tasks = [Task(out=out / f"batch{{i:09d}}.exr", index=i, scenes=1) for i in range(6)]
        try:
            run_tasks(tasks, RenderSettings(threads=1), workers=2, progress=False, worker_fn=fake_render)
        except WorkerDied as e:
            print("ERROR:", e, flush=True)
            sys.exit(1)
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
            sys.exit(130)
        print("DONE", flush=True)
""")


def start(tmp_path, mode):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(code=str(CODE)))
    out = tmp_path / "out"
    # a session of its own, so that a failed test can kill the run and its workers together
    return subprocess.Popen([sys.executable, str(script), str(out), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True), out


def kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for_line(p, wanted, timeout):
    """Read the run's stdout in a thread until a line equals ``wanted``; False after ``timeout``
    seconds (a blocking readline in the test itself could wait as long as the workers sleep)."""
    seen = threading.Event()

    def reader():
        for line in p.stdout:
            if line.strip() == wanted:
                seen.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    end = time.time() + timeout
    while time.time() < end:            # a run that has exited will not print it: stop waiting
        if seen.wait(0.5):
            return True
        if p.poll() is not None:
            return seen.wait(1.0)
    return seen.is_set()


def test_a_dead_worker_ends_the_run_naming_the_batch(tmp_path):
    p, out = start(tmp_path, "die")
    try:
        stdout, stderr = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        kill_group(p)
        pytest.fail("the run hung after a worker died")
    assert p.returncode == 1, (stdout, stderr)
    assert "ERROR:" in stdout and "batch000000002.exr" in stdout and "SIGKILL" in stdout
    assert not (out / "batch000000002.exr").exists()
    finished = sorted(f.name for f in out.glob("batch*.exr"))
    assert finished and all((out / f).read_bytes() == b"whole" for f in finished)
    assert not [f for f in os.listdir(out) if f.startswith(".")], "temp files left behind"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_a_run_whose_workers_are_busy(tmp_path, sig):
    p, out = start(tmp_path, "hang")
    try:
        if not wait_for_line(p, "busy", 120):
            code = p.poll()
            kill_group(p)
            try:
                err = p.communicate(timeout=10)[1]
            except subprocess.TimeoutExpired:
                err = "(stderr not readable)"
            pytest.fail(f"the workers never started their batches (run {'exited with ' + str(code) if code is not None else 'still running'}); "
                        f"its stderr:\n{err[-3000:]}")
        time.sleep(0.5)
        t0 = time.time()
        p.send_signal(sig)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{signal.Signals(sig).name} was ignored")
        stdout, stderr = "", p.stderr.read()
    finally:
        kill_group(p)
    assert p.returncode == 130, (stdout, stderr)
    assert time.time() - t0 < 20
    assert (out / "batch000000000.exr").read_bytes() == b"whole"
    assert not [f for f in os.listdir(out) if f.startswith(".")], "temp files left behind"
