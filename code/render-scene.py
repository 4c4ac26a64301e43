#!/usr/bin/env python3
"""Render one scene JSON file into a multi-channel EXR (and optional PNG previews).

    python code/render-scene.py --scene_file examples/room.json \
        --image_size 256 --spp 64 --out out/room_0.exr --png

Channels are named ``<pass>.R/.G/.B`` (3-channel passes) and ``<pass>.Y`` (1-channel passes);
the beauty is also the file's default ``R,G,B`` layer, which EXR viewers open. ``--out x.png``
writes one tone-mapped pass instead; ``--sheet`` adds a labelled contact sheet of all passes.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cnsr.render.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(description=__doc__))
