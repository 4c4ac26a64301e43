"""Command line of ``visualize-gqn.py`` (a thin script in ``code/``; console entry point
``cnsr-visualize-gqn``)."""
from __future__ import annotations

import sys
from typing import Optional, Sequence


def visualize_gqn_main(argv: Optional[Sequence[str]] = None) -> int:
    """Open the interactive viewer (:mod:`cnsr.viewer.gqn_window`)."""
    # imported here: moderngl, moderngl-window and imgui are optional (the 'viewer' extra), and
    # without them this should be a clear error, not an import failure of the package
    try:
        from .gqn_window import main
    except ImportError as e:
        print(f"visualize-gqn.py: error: the viewer needs moderngl, moderngl-window and imgui "
              f"(pip install 'cnsr[viewer]'): {e}", file=sys.stderr)
        return 1
    return main(argv)


def visualize_attributions_main(argv: Optional[Sequence[str]] = None) -> int:
    """Open the attribution viewer (:mod:`cnsr.viewer.attributions_window`)."""
    # imported here for the same reason as above
    try:
        from .attributions_window import main
    except ImportError as e:
        print(f"visualize-attributions.py: error: the viewer needs moderngl, moderngl-window and imgui "
              f"(pip install 'cnsr[viewer]'): {e}", file=sys.stderr)
        return 1
    return main(argv)
