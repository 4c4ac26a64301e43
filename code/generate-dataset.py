#!/usr/bin/env python3
"""Render dataset batches into OpenEXR batch files (from JSON folders, or in one step). See --help."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cnsr.data.cli import generate_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(generate_main())
