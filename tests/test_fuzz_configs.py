"""Fuzzing configs: mutated versions of the shipped configs either load (and then survive a
round trip through to_dict) or raise ConfigError naming the key: never another exception."""
import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fuzzing import mutated  # noqa: E402

from cnsr.config import ConfigError, check_trainable, load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASES = {name: json.loads((ROOT / "configs" / f"{name}.json").read_text())
         for name in ("quickstart", "room_beauty_gqn_buffers", "room_small_unet")}
#: '<config>: model.generators[0].settings.loss[1]: ...', '<config>: learning_rate: ...' (an
#: unknown key added by a mutation may be any text: '<config>: model.x y: unknown key')
NAMED_KEY = re.compile(r"<config>: .*\S.*: ", re.S)
counts = {}


@pytest.mark.parametrize("name", sorted(BASES))
def test_mutated_configs_load_or_raise_config_error_naming_the_key(name):
    outcome = {"loaded": 0, "refused": 0}

    @settings(max_examples=120, derandomize=True, deadline=None, database=None)
    @given(mutated(BASES[name]))
    def check(doc):
        try:
            cfg = load_config(doc)
        except ConfigError as e:
            assert NAMED_KEY.match(str(e)), str(e)
            outcome["refused"] += 1
            return
        outcome["loaded"] += 1
        assert load_config(cfg.to_dict()).to_dict() == cfg.to_dict()
        try:
            check_trainable(cfg)
        except ConfigError as e:
            assert "model" in str(e)

    check()
    assert outcome["loaded"] >= 5 and outcome["refused"] >= 30, outcome


def test_every_value_replaced_by_every_edge_number():
    """A systematic sweep beside the random one: each value of the quick-start config in turn
    becomes each edge number (huge, tiny, NaN, wrap-around integers)."""
    from fuzzing import EDGE_NUMBERS, _apply, paths
    import copy

    base = BASES["quickstart"]
    for path in paths(base):
        for value in EDGE_NUMBERS:
            doc = copy.deepcopy(base)
            _apply(doc, path, "replace", value)
            try:
                load_config(doc)
            except ConfigError as e:
                assert NAMED_KEY.match(str(e)), (path, value, str(e))
