"""What setup.sh leaves behind: the package installed into the repository's .venv, editable, so
``import cnsr`` and every ``cnsr-*`` command work from any folder; the renderer built once."""
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_setup_installs_the_package_editable_without_a_second_build():
    """setup.sh builds the renderer with build_renderer.sh, then installs the package in editable
    mode with CMake switched off (the extension is in code/cnsr/ already): one build."""
    text = (ROOT / "setup.sh").read_text()
    build = text.index("build_renderer.sh")
    install = re.search(r"pip install[^\n]*-e \.", text)
    assert install and install.start() > build, "the editable install must follow the renderer build"
    assert "wheel.cmake=false" in install.group(0) and "--no-build-isolation" in install.group(0)
    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    pinned = [r for r in backend if r.startswith("scikit-build-core")]
    assert pinned and any(line.startswith("scikit-build-core") for line in
                          (ROOT / "requirements.txt").read_text().splitlines()), \
        "requirements.txt must provide the build backend for the install without build isolation"


def _in_setup_venv() -> bool:
    return Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()


@pytest.mark.skipif(not _in_setup_venv(), reason="checks the repository's .venv that setup.sh makes (CI)")
def test_the_venv_imports_cnsr_from_any_folder_and_has_every_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", "import cnsr, cnsr._renderer as r; print(cnsr.__file__); "
                        "print(r.__file__)"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    package, renderer = r.stdout.split()
    assert Path(package).resolve() == (ROOT / "code" / "cnsr" / "__init__.py").resolve()   # editable
    assert Path(renderer).resolve().parent == (ROOT / "code" / "cnsr").resolve()          # the one build
    bin_dir = Path(sys.prefix) / "bin"
    missing = [name for name in ENTRY_POINTS if not (bin_dir / name).is_file()]
    assert not missing, f"console commands not installed: {missing}"
    r = subprocess.run([str(bin_dir / "cnsr-render"), "--help"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "--scene_file" in r.stdout
