#!/usr/bin/env python3
"""Interactive gradient x input attributions of a trained model (the paper's attribution viewer):
``python code/visualize-attributions.py --config C --checkpoint P [--scene_file S] [--settings F]``.

See ``--help`` and the README's "Attributions" section; the logic lives in
:mod:`cnsr.viewer.attributions` (state, GL-free) and :mod:`cnsr.viewer.attributions_window` (the
window; command line: :mod:`cnsr.viewer.cli`).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.viewer.cli import visualize_attributions_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(visualize_attributions_main())
