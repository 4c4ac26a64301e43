"""Command-line conventions every script shares.

- **One spelling**: options are written with underscores (``--no_progress``, ``--image_size``);
  the hyphen forms (``--no-progress``) are accepted too.
- **One meaning per name**: ``--image_size`` is an image side in pixels, ``--num_batches`` /
  ``--test_batches`` are numbers of dataset batches. Older spellings (``--size``,
  ``--testing_size``, ``--batches``, ``--render_size``) still work where they used to, with a
  note that names the new one (``deprecated_aliases``).
- **Numbers in range**: :func:`integer` and :func:`number` are argparse types that refuse
  what cannot be meant (``--size -3``, ``--spp 0``, ``--exposure nan``, ``--seed 1e23``) with
  a usage error (exit status 2) before any work starts.
- **Exit statuses**: 0 done, 2 bad input (arguments, config, checkpoint, data, an output that
  cannot be written), 1 a failure during the work (a full disk, a dead worker), 130 stopped
  by SIGINT/SIGTERM; :func:`report` prints an error the same way in every script.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, Optional, Sequence

from .io.outputs import is_disk_full

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

#: Seeds are integers that fit a signed 64-bit integer (torch and NumPy take them).
SEED_MAX = 2 ** 63 - 1


def _parse_int(text: str) -> int:
    text = str(text).strip()
    try:
        return int(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")


def integer(min: Optional[int] = None, max: Optional[int] = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer within [min, max] (either bound may be None)."""
    def parse(text: str) -> int:
        if len(str(text).strip()) > 40:
            raise argparse.ArgumentTypeError(f"expected an integer of at most 40 digits, got {len(str(text))} "
                                             f"characters")
        value = _parse_int(text)
        if (min is not None and value < min) or (max is not None and value > max):
            raise argparse.ArgumentTypeError(f"must be {_range(min, max)}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


def number(min: Optional[float] = None, max: Optional[float] = None, above: Optional[float] = None
           ) -> Callable[[str], float]:
    """An argparse ``type``: a finite number within [min, max] (or greater than ``above``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be greater than {above:g}, got {value:g}")
        if (min is not None and value < min) or (max is not None and value > max):
            raise argparse.ArgumentTypeError(f"must be {_range(min, max)}, got {value:g}")
        return value
    parse.__name__ = "number"
    return parse


def _range(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f"in [{lo:g}, {hi:g}]" if isinstance(lo, float) or isinstance(hi, float) else f"in [{lo}, {hi}]"
    if lo is not None:
        return f">= {lo}"
    return f"<= {hi}"


#: ``--seed``: an integer in [0, 2^63 - 1]
seed = integer(0, SEED_MAX)
#: counts and sizes that must be at least 1
positive = integer(1)
#: counts that may be 0
non_negative = integer(0)


class _DeprecatedAlias(argparse.Action):
    """An old option name: stores into the new option's destination, with a note naming it."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"note: {option_string} is deprecated here; it means {self.new}, which to use from now on",
              file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def add_deprecated_alias(parser: argparse.ArgumentParser, old: str, action: argparse.Action) -> None:
    """Let ``old`` (hidden from ``--help``) set what the option of ``action`` sets, with a note."""
    kwargs = {"type": action.type, "choices": action.choices, "metavar": action.metavar}
    if action.nargs == 0:   # a flag: the alias sets what the flag sets
        kwargs.update(nargs=0, const=action.const)
    elif action.nargs is not None:
        kwargs["nargs"] = action.nargs
    parser.add_argument(old, dest=action.dest, action=_DeprecatedAlias, new=action.option_strings[-1],
                        help=argparse.SUPPRESS, **{k: v for k, v in kwargs.items() if v is not None})


def normalize_options(args: Sequence[str], option_strings) -> list:
    """``--no-progress`` -> ``--no_progress`` (and ``--image-size=64`` -> ``--image_size=64``)
    where the underscore form names one of ``option_strings`` (or is a prefix of one)."""
    out = []
    rest = False
    for token in args:
        if rest or not isinstance(token, str) or not token.startswith("--") or token == "--":
            rest = rest or token == "--"
            out.append(token)
            continue
        name, eq, value = token.partition("=")
        if "-" in name[2:] and name not in option_strings:
            alt = "--" + name[2:].replace("-", "_")
            if any(o.startswith(alt) for o in option_strings):
                token = alt + eq + value
        out.append(token)
    return out


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the conventions of the module docstring:
    ``add_argument(..., deprecated_aliases=["--size"])`` and hyphen forms of every option."""

    def add_argument(self, *args, deprecated_aliases: Sequence[str] = (), **kwargs):
        action = super().add_argument(*args, **kwargs)
        for old in deprecated_aliases:
            add_deprecated_alias(self, old, action)
        return action

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(normalize_options(args, self._option_string_actions), namespace)


def add_set_argument(p: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): config overrides, see :mod:`cnsr.overrides`."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="set",
                   help="override a config key, validated like the file, e.g. --set batch_size=8 --set "
                        "model.generators[0].settings.hidden_units=64 (repeatable; recorded in the run's config)")


def describe_os_error(e: OSError) -> str:
    """An OSError as one line naming the file, with what to do about a full disk."""
    where = f"{e.filename}: " if getattr(e, "filename", None) else ""
    text = f"{where}{e.strerror}" if e.strerror else str(e)
    if is_disk_full(e) and "disk is full" not in text:
        text += " (the disk is full: free space, then run the same command again; finished files are kept)"
    return text


def report(prog: str, error: BaseException) -> int:
    """Print ``prog: error: ...`` for a project error and return the exit status: 1 for a failure
    while working (OSError: a full disk, an unreadable file; MemoryError), 2 for bad input."""
    if isinstance(error, OSError):
        msg = str(error) if getattr(error, "strerror", None) is None else describe_os_error(error)
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(error, MemoryError):
        print(f"{prog}: error: out of memory{f' ({error})' if str(error) else ''}: ask for less (a smaller "
              f"image, fewer batches or workers)", file=sys.stderr)
        return EXIT_FAILED
    print(f"{prog}: error: {error}", file=sys.stderr)
    return EXIT_BAD_INPUT

