#!/usr/bin/env python3
"""Write the scene JSON files of a dataset (batch folders with per-view scene files and factor.txt). See --help."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cnsr.data.cli import create_json_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(create_json_main())
