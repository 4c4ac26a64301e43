#!/usr/bin/env python3
"""Composite the lighting, geometry and material of three scenes with a trained model:
``python code/composite.py --config C --checkpoint P --lighting A --geometry B --material M --out out.png``.

See ``--help`` and the README's "Evaluation and compositing" section; the logic lives in
:mod:`cnsr.analysis.compositing` (command line: :mod:`cnsr.analysis.cli`).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.analysis.cli import composite_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(composite_main())
