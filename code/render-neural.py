#!/usr/bin/env python3
"""Render a scene file with a trained model beside the path tracer:
``python code/render-neural.py --config C --checkpoint P --scene_file S --size 256 --out out/x.exr``.

See ``--help`` and the README's "Evaluation and compositing" section; the logic lives in
:mod:`cnsr.analysis.neural_render` (command line: :mod:`cnsr.analysis.cli`).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.analysis.cli import render_neural_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(render_neural_main())
