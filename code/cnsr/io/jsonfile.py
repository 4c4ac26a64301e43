"""Reading JSON files with errors that name the file, the kind of file and the position."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Type, Union


def parse_json_text(text: str, error: Type[Exception], where: str, what: str) -> Any:
    """Parse JSON ``text``; invalid JSON, nesting deeper than Python's recursion limit and integers
    too long to convert raise ``error`` naming ``where`` and ``what`` it should be."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{where}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise error(f"{where}: not a {what}: its JSON is nested too deeply to read") from None
    except ValueError as e:     # an integer of more digits than Python converts (4300 by default)
        raise error(f"{where}: not a {what}: {str(e).split(';')[0]}") from None


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
    return parse_json_text(text, error, str(path), what)
