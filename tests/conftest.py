"""Shared pytest set-up: make ``code/`` and the tests' helpers (``tiny.py``) importable, and
locate optional test data.

The scene files and meshes written by the paper's own randomizers are test data the project
does not carry. They are looked for in ``$CNSR_REFERENCE_SCENES``, else in
``../shared/reference-scenes`` beside the repository. Without them the tests that need them
are skipped, and the run says so: in its header, in each skip reason, and in a section of the
summary that lists the tests that did not run (or ran with the built-in meshes instead).
"""
import os
import sys
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ROOT / "code"
TESTS = ROOT / "tests"
for _path in (CODE, TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

#: the environment variable naming the folder of the reference scene files
REFERENCE_SCENES_ENV = "CNSR_REFERENCE_SCENES"


def _reference_scenes() -> (Optional[Path], str):
    """(the folder of the reference scene files or None, where it was looked for)."""
    given = os.environ.get(REFERENCE_SCENES_ENV)
    folder = Path(given) if given else ROOT.parent / "shared" / "reference-scenes"
    where = f"${REFERENCE_SCENES_ENV} = {folder}" if given else f"{folder} (${REFERENCE_SCENES_ENV} is not set)"
    return (folder if folder.is_dir() else None), where


REFERENCE_SCENES, _WHERE = _reference_scenes()
MISSING_REFERENCE_SCENES = (f"reference scene files not found in {_WHERE}: set {REFERENCE_SCENES_ENV} to the folder "
                            f"of the paper's randomizers' scene files and meshes to run this test")
#: node ids of the tests that went without them
_WENT_WITHOUT: List[str] = []


@pytest.fixture
def reference_scenes(request) -> Path:
    """The folder of the reference scene files; the test is skipped, loudly, without it."""
    if REFERENCE_SCENES is None:
        _WENT_WITHOUT.append(f"{request.node.nodeid}: skipped")
        pytest.skip(MISSING_REFERENCE_SCENES)
    return REFERENCE_SCENES


@pytest.fixture
def optional_reference_scenes(request) -> Optional[Path]:
    """The folder of the reference scene files, or None: the test then runs with the built-in
    stand-ins, and the summary says so."""
    if REFERENCE_SCENES is None:
        _WENT_WITHOUT.append(f"{request.node.nodeid}: ran with the built-in meshes instead")
    return REFERENCE_SCENES


def pytest_report_header(config):
    if REFERENCE_SCENES is None:
        return f"reference scene files: NOT FOUND in {_WHERE}; the tests that need them are skipped"
    return f"reference scene files: {REFERENCE_SCENES}"


def pytest_terminal_summary(terminalreporter):
    if _WENT_WITHOUT:
        terminalreporter.section("tests without the reference scene files", sep="!", yellow=True, bold=True)
        terminalreporter.line(MISSING_REFERENCE_SCENES.replace("this test", "these tests"))
        for line in _WENT_WITHOUT:
            terminalreporter.line(f"  {line}")


@pytest.fixture(scope="session")
def repo_root():
    return ROOT
