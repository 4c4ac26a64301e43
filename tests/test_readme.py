"""The README's Python snippets run as written, from the repository root.

Every fenced ``python`` block of README.md runs, each in a fresh namespace, one after the other
in one interpreter, in a stand-in of the repository root (``configs/``, ``examples/`` and
``code/`` linked) with tiny stand-ins for what a user would have made first: a quick-start
checkpoint in the run folder the quick start's training writes
(``checkpoints/quickstart/version_0/quickstart_600.pt``, untrained weights) and one PrimitiveRoom
batch file (``datasets/room/train/``, random pixels). A stand-in rather than the repository itself, so
that the snippets' relative paths find those files and never a user's own datasets or
checkpoints. The configs name their data ``../datasets/room/train`` (relative to ``code/``, as
the reference's; tried against the current folder first), so ``datasets/`` is also linked one
level up.

A block that cannot run here says so on the line before it, with the reason:
``<!-- snippet: not run (reason) -->``.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_RUN = re.compile(r"<!--\s*snippet:\s*not run\s*\((.+?)\)\s*-->")
FENCE = re.compile(r"^```(\S*)[^\n]*$")


def snippets(text: str):
    """``(line, code, reason)`` for every fenced python block: its first line's number (1-based),
    its code, and the reason it is not run (None when it runs)."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if lang == "python":
            prev = lines[start - 1] if start else ""
            skip = NOT_RUN.search(prev)
            out.append((start + 2, "\n".join(lines[start + 1:j]), skip.group(1) if skip else None))
        i = j + 1
    return out


def test_snippets_are_found_and_skips_give_reasons():
    blocks = snippets(README.read_text())
    assert len(blocks) >= 8
    run = [b for b in blocks if b[2] is None]
    skipped = [b for b in blocks if b[2] is not None]
    # not run: the paper's checkpoint (one), module sources of "Extending cnsr" (four)
    assert len(run) >= 6 and len(skipped) <= 5, [(line, reason) for line, _, reason in skipped]
    for line, code, reason in skipped:
        assert len(reason) > 10, f"README.md:{line}: say why the snippet is not run"
    # a marker must sit right before a python block, nowhere else
    text = README.read_text()
    assert len(NOT_RUN.findall(text)) == len(skipped)


DRIVER = textwrap.dedent('''
    import json, sys, time, traceback
    blocks = json.load(open(sys.argv[1]))
    for line, code in blocks:
        t0 = time.perf_counter()
        try:
            exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "__main__"})
        except BaseException:
            print(f"FAILED README.md:{line}", flush=True)
            traceback.print_exc()
            sys.exit(1)
        print(f"ok README.md:{line} {time.perf_counter() - t0:.1f} s", flush=True)
''')


def stand_ins(root: Path) -> None:
    """The checkpoint and the batch file the snippets name, made without training or rendering."""
    from cnsr.config import load_config
    from cnsr.data import write_batch_exr
    from cnsr.engine.checkpoint import save_checkpoint
    from cnsr.models import build_model

    cfg = load_config(ROOT / "configs" / "quickstart.json")
    torch.manual_seed(0)
    model = build_model(cfg)
    path = save_checkpoint(root / "checkpoints" / "quickstart" / "version_0", "quickstart", model,
                           torch.optim.Adam(model.parameters()), 600, config=cfg.to_dict())
    assert path.name == "quickstart_600.pt"               # the name the quick start's run gives it
    rng = np.random.default_rng(0)
    b, v, s = 16, 4, 64                                   # room_beauty: 16 scenes of 4 views, 64 px
    images = {"beauty": rng.uniform(0, 2, (b, v, 3, s, s)), "normal": rng.uniform(-1, 1, (b, v, 3, s, s)),
              "position": rng.uniform(-3, 3, (b, v, 3, s, s)), "id": rng.integers(0, 12, (b, v, 1, s, s)) / 12}
    poses = np.tile(np.eye(4, dtype=np.float32).reshape(16), (b, v, 1))
    folder = root / "datasets" / "room" / "train"
    folder.mkdir(parents=True)
    write_batch_exr(folder / "batch000000000.exr", images, poses, factor=0, meta={"dataset": "room"})


def test_readme_snippets_run_as_written(tmp_path):
    pytest.importorskip("cnsr._renderer")
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("configs", "examples", "code"):
        os.symlink(ROOT / name, root / name)
    stand_ins(root)
    os.symlink(root / "datasets", tmp_path / "datasets")
    blocks = [(line, code) for line, code, reason in snippets(README.read_text()) if reason is None]
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "driver.py").write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "code"), OMP_NUM_THREADS="2")
    r = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json")], cwd=root,
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
    assert r.stdout.count("ok README.md:") == len(blocks)
