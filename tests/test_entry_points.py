"""Console entry points (pyproject.toml [project.scripts]) and the scripts in code/: every target
imports, and every command answers --help."""
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "code").glob("*.py"))
ENTRY_POINTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
#: the script in code/ beside each entry point
SCRIPT_OF = {"cnsr-render": "render-scene.py", "cnsr-train": "train-gqn.py"}


def test_every_script_has_an_entry_point_and_targets_are_cli_mains():
    names = {SCRIPT_OF.get(ep, ep[len("cnsr-"):] + ".py") for ep in ENTRY_POINTS}
    assert names == {p.name for p in SCRIPTS}
    for ep, target in ENTRY_POINTS.items():
        module, _, func = target.partition(":")
        assert module.endswith(".cli"), f"{ep} should point at a */cli.py main, not {target}"
        assert callable(getattr(importlib.import_module(module), func)), target


def test_every_script_answers_help():
    """All scripts at once, each in a fresh interpreter, as a user runs them."""
    procs = {p.name: subprocess.Popen([sys.executable, str(p), "--help"], cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for p in SCRIPTS}
    failed = []
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        if proc.returncode != 0 or "usage:" not in out or "--" not in out:
            failed.append(f"{name}: exit {proc.returncode}\n{err[-800:]}")
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_every_entry_point_answers_help(entry_point, capsys):
    """As the generated console script does: import the target and call it (here with
    ``--help`` as its arguments, in this interpreter: the imports are shared, so it is quick)."""
    module, _, func = ENTRY_POINTS[entry_point].partition(":")
    main = getattr(importlib.import_module(module), func)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code in (0, None)
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("script", [p.name for p in SCRIPTS])
def test_scripts_are_thin(script):
    """A script in code/ only hands over to a cli module: no logic of its own."""
    text = (ROOT / "code" / script).read_text()
    assert ".cli import" in text
    assert "def " not in text and "argparse" not in text
