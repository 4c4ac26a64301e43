#!/usr/bin/env python3
"""Interactive viewer: path-traced reference | the network's prediction for a movable camera:
``python code/visualize-gqn.py --config C --checkpoint P [--scene_file S] [--window headless]``.

See ``--help`` and the README's "Interactive viewer" section; the logic lives in
:mod:`cnsr.viewer.gqn` (state, GL-free) and :mod:`cnsr.viewer.gqn_window` (the window; command line:
:mod:`cnsr.viewer.cli`).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.viewer.cli import visualize_gqn_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(visualize_gqn_main())
