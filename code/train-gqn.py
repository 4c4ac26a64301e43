#!/usr/bin/env python3
"""Train the encoders and generators of a config: ``python code/train-gqn.py --config C``.

See ``--help`` and the README's "Training" section; the logic lives in :mod:`cnsr.engine`.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cnsr.engine.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
