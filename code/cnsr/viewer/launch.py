"""Starting a viewer window: the checks every viewer makes before it opens one.

moderngl-window parses the command line (its own options and the viewer's), so this module
adds the project's conventions to that parser's input: hyphen forms of options, the old
``--render_size`` (now ``--image_size``), ``--window_size WxH`` for the library's ``--size``
(``--size`` keeps working), and EGL for ``--window headless``. Before a window opens it refuses
what would otherwise end in a traceback from the window library or later: no display without
``--window headless``, a device this machine lacks, a screenshot that cannot be written.
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

from ..arguments import normalize_options, report
from ..config import ConfigError
from ..data.exrbatch import DatasetError
from ..engine.checkpoint import CheckpointError
from ..engine.devices import DeviceError, check_device
from ..io.outputs import OutputError, prepare_file
from ..render.scene import SceneError


class DisplayError(ValueError):
    """A window was asked for where there is no display."""


def has_display() -> bool:
    """Whether a window can be shown: always on macOS and Windows; on Linux and the BSDs when
    X11 or Wayland is there."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _window_args(args: Sequence[str]) -> list:
    out = []
    it = iter(args)
    for a in it:
        if a == "--window_size":
            out += ["--size", next(it, "")]
        elif a.startswith("--window_size="):
            out.append("--size=" + a.split("=", 1)[1])
        else:
            out.append(a)
    return out


def run_viewer(window_cls, argv: Optional[Sequence[str]], prog: str,
               errors: tuple = ()) -> int:
    """Parse, check and run the moderngl-window application ``window_cls``; errors of the
    project's kinds (and ``errors``) are a message and exit status 2, never a traceback."""
    import moderngl_window as mglw

    parser = mglw.create_parser()
    parser.prog = prog
    window_cls.add_arguments(parser)
    args = _window_args(normalize_options(list(sys.argv[1:] if argv is None else argv),
                                          parser._option_string_actions))
    values = parser.parse_args(args)
    headless = values.window == "headless"
    if headless and not values.backend:
        args += ["--backend", "egl"]    # the headless window needs EGL on machines without X
    try:
        if not headless and not has_display():
            raise DisplayError("no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set): use "
                               "--window headless, with --frames N --screenshot F.png to write what it shows")
        check_device(values.device)
        if values.screenshot:
            prepare_file(values.screenshot, "--screenshot")
        mglw.run_window_config(window_cls, args=args)
    except (ConfigError, CheckpointError, DatasetError, SceneError, DeviceError, OutputError, DisplayError,
            *errors) as e:
        return report(prog, e)
    return 0
