"""Hypothesis strategies shared by the fuzz tests: JSON values (with the numbers that tend to
break things) and mutations of a valid JSON document (replace, delete or add a value at a
random place)."""
import copy
import math

from hypothesis import strategies as st

#: Numbers at the edges: zero, signs, int32/uint32/int64 wrap-around, float32 overflow, huge
#: finite floats (beyond what Embree accepts), tiny ones, non-finite.
EDGE_NUMBERS = [0, 1, -1, 3, 7, 2 ** 31, 2 ** 32, 2 ** 32 + 2, 2 ** 63, 2 ** 70, -2 ** 31, 0.5, 1.7, -0.0,
                1e-30, 1e8, 1e20, -1e20, 1e39, 1e308, 10 ** 400, math.inf, -math.inf, math.nan]

leaves = (st.none() | st.booleans() | st.sampled_from(EDGE_NUMBERS)
          | st.integers(-10 ** 6, 10 ** 6) | st.floats(allow_nan=True, allow_infinity=True)
          | st.text(max_size=6))
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)


def paths(doc, prefix=()):
    """Every path (a tuple of keys and indices) to a value inside ``doc``."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, prefix + (i,))
    return out


def _apply(doc, path, op, value):
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if op == "delete":
        if isinstance(parent, dict):
            del parent[key]
        elif parent:
            parent.pop(key)
    elif op == "add" and isinstance(parent, dict):
        parent[str(value)[:8] if not isinstance(value, str) else value] = value
    else:
        parent[key] = value


@st.composite
def mutated(draw, base, max_mutations=3):
    """``base`` (a JSON document) with 1..max_mutations random edits."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_mutations))):
        ps = paths(doc)
        if not ps:
            break
        path = draw(st.sampled_from(ps))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if draw(st.integers(0, 2)):   # two in three edits put an edge number where a value was
            value = EDGE_NUMBERS[draw(st.integers(0, len(EDGE_NUMBERS) - 1))]
        else:
            value = draw(json_values)
        _apply(doc, path, op, value)
    return doc
