#!/usr/bin/env python3
"""Reproduce the paper's partitioning experiments: ``python code/run-experiments.py [--list]``.

See ``--help`` and the README's "Experiments" section; the logic lives in :mod:`cnsr.experiments`.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.experiments.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
