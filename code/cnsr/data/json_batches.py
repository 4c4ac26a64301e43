"""The reference's JSON dataset layout and the shared naming/sharding of batches.

``create-dataset-json-files.py`` writes ``D/{train,test}/batch%09d/scene%04d/view%03d.json``
(one complete scene description per view, camera included) plus ``factor.txt`` (the batch's
factor as a decimal integer) per batch folder. ``generate-dataset.py`` renders each batch
folder into ``OUT/batch%09d.exr``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import List, Sequence, Tuple, Union

from tqdm import tqdm

from ..io.jsonfile import read_json_file
from .batches import make_batch
from .exrbatch import DatasetError

PathLike = Union[str, os.PathLike]
BATCH_RE = re.compile(r"^batch(\d+)$")


def batch_name(index: int) -> str:
    """``batch%09d``: the name of batch ``index`` (a JSON folder, or a file stem)."""
    return f"batch{index:09d}"


def parse_shard(text: str) -> Tuple[int, int]:
    """``"INDEX/COUNT"`` (0-based, e.g. ``$SLURM_ARRAY_TASK_ID/16``) -> (index, count)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"--shard: expected INDEX/COUNT such as 0/4, got {text!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text}: needs 0 <= INDEX < COUNT")
    return index, count


def shard_items(items: Sequence, shard: Tuple[int, int] = (0, 1)) -> list:
    """The items of shard ``(index, count)``: every ``count``-th from ``index`` (round robin, so
    shards get equal shares of every split and the shards together cover each item once)."""
    index, count = shard
    return list(items[index::count])


def write_json_batch(folder: PathLike, scenes: List[List[dict]], factor: int) -> None:
    """Write one batch folder (``scene%04d/view%03d.json`` + ``factor.txt``) atomically:
    it is assembled under a hidden temporary name and renamed into place when complete."""
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for s, views in enumerate(scenes):
            d = tmp / f"scene{s:04d}"
            d.mkdir(parents=True)
            for v, scene in enumerate(views):
                (d / f"view{v:03d}.json").write_text(json.dumps(scene, indent=1))
        (tmp / "factor.txt").write_text(f"{int(factor)}\n")
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_json_batch(folder: PathLike) -> Tuple[List[List[Path]], int]:
    """A batch folder -> (``[scene][view] -> JSON path``, factor). Raises :class:`DatasetError`
    naming the folder or file when the layout is broken."""
    folder = Path(folder)
    try:
        factor = int((folder / "factor.txt").read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        raise DatasetError(f"{folder / 'factor.txt'}: missing (not a batch folder?)") from None
    except ValueError:   # UnicodeDecodeError included
        raise DatasetError(f"{folder / 'factor.txt'}: not an integer factor") from None
    if factor not in (-1, 0, 1, 2):
        raise DatasetError(f"{folder / 'factor.txt'}: factor {factor} is not -1, 0, 1 or 2")
    scenes = []
    for d in sorted(p for p in folder.glob("scene*") if p.is_dir()):
        views = sorted(d.glob("view*.json"))
        if not views:
            raise DatasetError(f"{d}: no view*.json files")
        scenes.append(views)
    if not scenes:
        raise DatasetError(f"{folder}: no scene* folders")
    if len({len(v) for v in scenes}) != 1:
        raise DatasetError(f"{folder}: scenes have different numbers of views")
    return scenes, factor


def list_json_batches(folder: PathLike) -> List[Path]:
    """The ``batch*`` folders of a JSON dataset split, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder does not exist")
    out = sorted(p for p in folder.iterdir() if p.is_dir() and BATCH_RE.match(p.name))
    if not out:
        raise DatasetError(f"{folder}: no batch* folders (make them with create-dataset-json-files.py)")
    return out


def load_view_json(path: PathLike) -> dict:
    """One view's scene description; a clear error names a broken file."""
    return read_json_file(path, DatasetError, "scene file")


def create_json_dataset(dataset: str, out_folder: PathLike, sizes: dict, seed: int, batch_size: int,
                        test_batch_size: int, views_per_scene: int, latent_separation: bool,
                        shard: Tuple[int, int] = (0, 1), progress: bool = True) -> dict:
    """Write the JSON folders of ``sizes[split]`` batches per split under ``OUT/<split>/``.

    Batch folders that exist already are skipped (a rerun continues); returns counts
    ``written`` and ``skipped``. See :mod:`cnsr.data.batches` for what a batch holds.
    """
    out_folder = Path(out_folder)
    items = [(split, i) for split, n in sizes.items() for i in range(n)]
    mine = shard_items(items, shard)
    todo = [(s, i) for s, i in mine if not (out_folder / s / batch_name(i)).is_dir()]
    counts = {"written": 0, "skipped": len(mine) - len(todo)}
    for split, i in tqdm(todo, unit="batch", desc="scene files", disable=not progress, dynamic_ncols=True):
        b = batch_size if split == "train" else test_batch_size
        scenes, factor = make_batch(dataset, seed, split, i, b, views_per_scene, latent_separation)
        (out_folder / split).mkdir(parents=True, exist_ok=True)
        write_json_batch(out_folder / split / batch_name(i), scenes, factor)
        counts["written"] += 1
    return counts
