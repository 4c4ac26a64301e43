"""``--set key.path=value``: change single config keys from the command line.

Dotted key paths as nerfstudio and Hydra write them, with list indices in brackets or as a
segment: ``batch_size=8``, ``test_data_dir=datasets/other/test``,
``model.generators[0].settings.hidden_units=64`` (= ``model.generators.0.settings...``).
The value is read as JSON where it is JSON (``8``, ``1e-3``, ``true``, ``null``,
``["beauty","normal"]``, ``"8"``), else taken as a string. The overridden config is validated
exactly like a file (:func:`cnsr.config.parse_config`), so a misspelt key or a value out of range
is the same error, and its source names the overrides (``room.json --set batch_size=8``).
"""
from __future__ import annotations

import copy
import json
import os
import re
from typing import Any, Dict, List, Sequence, Tuple, Union

from .config import Config, ConfigError, config_path, load_config, parse_config, read_config_file

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_override(text: str) -> Tuple[List[Union[str, int]], Any]:
    """``"a.b[0].c=3"`` -> (``["a", "b", 0, "c"]``, 3). Raises :class:`ConfigError`."""
    key, sep, raw = str(text).partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text}: expected KEY=VALUE, e.g. --set batch_size=8")
    path: List[Union[str, int]] = []
    pos = 0
    for m in _SEGMENT.finditer(key):
        gap = key[pos:m.start()]
        if gap not in ("", "."):
            break
        pos = m.end()
        name, index = m.group(1), m.group(2)
        path.append(int(index) if index is not None else int(name) if name.isdigit() else name)
    if pos != len(key) or not path or not isinstance(path[0], str):
        raise ConfigError(f"--set {text}: {key!r} is not a key path such as model.generators[0].render_size")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = raw
    return path, value


def _show(path: Sequence[Union[str, int]]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def apply_overrides(data: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    """A copy of the config dict ``data`` with every ``KEY=VALUE`` of ``overrides`` set."""
    data = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(path):
            last = i == len(path) - 1
            where = _show(path[:i + 1])
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise ConfigError(f"--set {text}: {_show(path[:i]) or 'the config'} is not a list")
                if not 0 <= part < len(node):
                    raise ConfigError(f"--set {text}: {where}: {_show(path[:i])} has {len(node)} entries")
                if last:
                    node[part] = value
                else:
                    node = node[part]
            else:
                if not isinstance(node, dict):
                    raise ConfigError(f"--set {text}: {_show(path[:i])} is not an object")
                if last:
                    node[part] = value
                else:
                    if node.get(part) is None and not isinstance(path[i + 1], int):
                        node[part] = {}   # a section the file leaves out (its defaults apply)
                    node = node.get(part)
                    if node is None:
                        raise ConfigError(f"--set {text}: {where}: not in the config")
    return data


def describe_source(source: Union[str, None], overrides: Sequence[str]) -> str:
    """The config's source as errors and records name it: ``room.json --set batch_size=8``."""
    base = source or "<config>"
    return base + "".join(f" --set {o}" for o in overrides)


def with_overrides(config: Union[Config, Dict[str, Any], str, os.PathLike], overrides: Sequence[str] = (),
                   source: Union[str, None] = None) -> Config:
    """Load ``config`` (a :class:`Config`, a dict or a file path) with ``overrides`` applied to its
    keys before validation, so the result is checked exactly like a file holding those values."""
    if not overrides:
        if isinstance(config, dict):
            return parse_config(copy.deepcopy(config), source)
        return load_config(config)
    if isinstance(config, Config):
        source = source or config.source
        data = config.to_dict()
    elif isinstance(config, dict):
        data = config
    else:
        source = str(config_path(config))
        data = read_config_file(config)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a config must be a JSON object")
    return parse_config(apply_overrides(data, overrides), describe_source(source, overrides))
