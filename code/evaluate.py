#!/usr/bin/env python3
"""Evaluate a trained model on the held-out split: ``python code/evaluate.py --config C --checkpoint P``.

See ``--help`` and the README's "Evaluation and compositing" section; the logic lives in
:mod:`cnsr.analysis.evaluation` (command line: :mod:`cnsr.analysis.cli`).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.analysis.cli import evaluate_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(evaluate_main())
