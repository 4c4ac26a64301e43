#!/usr/bin/env python3
"""Render a contact sheet of random scenes of a dataset (rows = scenes, columns = passes).

    python code/preview-scenes.py --dataset room --out room.png
    python code/preview-scenes.py --dataset archviz --out archviz.png --count 4 --size 128 --spp 64

See ``--help``; the logic lives in :mod:`cnsr.scenes.contact_sheet` (command line: :mod:`cnsr.scenes.cli`).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.scenes.cli import preview_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(preview_main())
