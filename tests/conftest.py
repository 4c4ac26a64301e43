"""Shared pytest set-up: make ``code/`` and the tests' helpers (``tiny.py``) importable, and
locate optional test data."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ROOT / "code"
TESTS = ROOT / "tests"
for _path in (CODE, TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

#: Scene files written by the paper's own randomizers, when the shared folder sits beside the repo.
REFERENCE_SCENES = ROOT.parent / "shared" / "reference-scenes"


@pytest.fixture
def reference_scenes():
    if not REFERENCE_SCENES.is_dir():
        pytest.skip("reference scene files not available")
    return REFERENCE_SCENES


@pytest.fixture(scope="session")
def repo_root():
    return ROOT
