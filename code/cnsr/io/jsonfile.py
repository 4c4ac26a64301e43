"""Reading JSON files with errors that name the file, the kind of file and the position."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Type, Union


def read_json_file(path: Union[str, os.PathLike], error: Type[Exception], what: str) -> Any:
    """Parse the JSON file ``path``; an unreadable file or invalid JSON raises ``error`` with a
    message naming the file and ``what`` it should be (e.g. "config file", "scene file")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"{path}: cannot read {what} ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: not a {what} (not UTF-8 text: byte {e.start} is {e.object[e.start:e.start + 1]!r}; "
                    f"a binary file?)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{path}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
