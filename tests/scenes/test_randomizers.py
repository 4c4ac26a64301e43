"""Scene randomizers: reproducibility, factor semantics, variant statistics, JSON layout."""
import json

import numpy as np
import pytest

from cnsr.scenes import ALL, DATASETS, GEOMETRY, LIGHTING, MATERIAL, make_randomizer
from cnsr.scenes import room as room_module
from cnsr.scenes.base import apply_transform, transform

ROOMS = [d for d in DATASETS if d != "archviz"]


def _scenes(name, seed, n):
    rz = make_randomizer(name, seed)
    out = [rz.to_json()]
    for _ in range(n - 1):
        rz.random_scene()
        out.append(rz.to_json())
    return out


@pytest.mark.parametrize("name", DATASETS)
def test_same_seed_same_scenes_and_batches(name):
    assert _scenes(name, 7, 4) == _scenes(name, 7, 4)
    assert _scenes(name, 7, 4) != _scenes(name, 8, 4)
    a, b = make_randomizer(name, 3), make_randomizer(name, 3)
    assert a.factor_batch(GEOMETRY, 3, 2) == b.factor_batch(GEOMETRY, 3, 2)


@pytest.mark.parametrize("name", DATASETS)
def test_scene_is_json_serialisable(name):
    scene = make_randomizer(name, 1).to_json()
    assert json.loads(json.dumps(scene)) == scene


def _changed(rz, factor, seeds=4):
    """For several base scenes: (parts before, parts after re-randomizing ``factor``)."""
    pairs = []
    for s in range(seeds):
        base = make_randomizer(rz, s)
        child = base.with_factor(factor)
        pairs.append((base.factor_parts(), child.factor_parts(), base, child))
    return pairs


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("factor,key", [(LIGHTING, "lighting"), (GEOMETRY, "geometry"), (MATERIAL, "material")])
def test_factor_changes_only_its_part(name, factor, key):
    differs = 0
    for before, after, base, child in _changed(name, factor):
        for other in ("lighting", "geometry", "material"):
            if other != key:
                assert before[other] == after[other], f"{other} changed when re-randomizing {key}"
        differs += before[key] != after[key]
        assert before["camera"] != after["camera"]  # with_factor draws a new view
    assert differs >= 3


@pytest.mark.parametrize("name", DATASETS)
def test_in_place_factor_keeps_camera_and_other_parts(name):
    rz = make_randomizer(name, 11)
    before = rz.factor_parts()
    rz.randomize_lighting()
    after = rz.factor_parts()
    assert after["camera"] == before["camera"]
    assert after["geometry"] == before["geometry"] and after["material"] == before["material"]
    rz.random_view()
    assert rz.factor_parts()["lighting"] == after["lighting"]


@pytest.mark.parametrize("name", ["room", "manymanyroom", "archviz"])
@pytest.mark.parametrize("factor", [LIGHTING, GEOMETRY, MATERIAL])
def test_factor_batch_shares_other_factors(name, factor):
    rz = make_randomizer(name, 5)
    batch = rz.factor_batch(factor, batch_size=4, views_per_scene=3)
    assert len(batch) == 4 and all(len(v) == 3 for v in batch)
    keys = {LIGHTING: "lighting", GEOMETRY: "geometry", MATERIAL: "material"}
    parts = [[rz.factor_parts(view) for view in views] for views in batch]
    for views in parts:  # the views of one scene differ only in the camera
        for p in views[1:]:
            assert all(p[k] == views[0][k] for k in keys.values())
        assert len({json.dumps(p["camera"]) for p in views}) == 3
    for k in keys.values():
        values = {json.dumps(views[0][k], sort_keys=True) for views in parts}
        if k == keys[factor]:
            assert len(values) >= 3, f"{k} should vary across the batch"
        else:
            assert len(values) == 1, f"{k} should be shared across the batch"


@pytest.mark.parametrize("name", ["room", "archviz"])
def test_test_batches_vary_everything(name):
    rz = make_randomizer(name, 9)
    batch = rz.factor_batch(ALL, batch_size=4, views_per_scene=1)
    for k in ("lighting", "geometry", "material"):
        assert len({json.dumps(rz.factor_parts(v[0])[k], sort_keys=True) for v in batch}) >= 3


def test_with_factor_leaves_parent_scene_and_copy_continues_stream():
    rz = make_randomizer("room", 2)
    scene = rz.to_json()
    rz.with_factor(GEOMETRY)
    assert rz.to_json() == scene
    c = rz.copy()
    rz.random_scene()
    c.random_scene()
    assert c.to_json() == rz.to_json()
    other = make_randomizer("room", 99)
    other.load_state(rz.state())
    assert other.factor_parts() == rz.factor_parts()


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="unknown dataset"):
        make_randomizer("kitchen", 0)
    with pytest.raises(ValueError, match="factor"):
        make_randomizer("room", 0).randomize_factor(3)


def test_transform_is_row_vector_rotation_then_translation():
    m = np.asarray(transform(np.pi / 2, (1.0, 2.0, 3.0), 2.0))
    assert np.allclose(m[3], [1, 2, 3, 1]) and np.allclose(m[:, 3], [0, 0, 0, 1])
    # +x turned a quarter turn counter-clockwise seen from above (+y) points to -z
    p = apply_transform(m, np.array([[1.0, 0.0, 0.0]]))[0]
    assert np.allclose(p, [1.0, 2.0, 3.0 - 2.0])


# ---- PrimitiveRoom numbers of the spec ---------------------------------------------------

def test_room_material_ids_follow_spec():
    expected = {"ground": 0, "ceiling": 1, "back_wall": 2, "left_wall": 3, "right_wall": 4, "front_wall": 5,
                "light": 6, "dodecahedron": 7, "cylinder": 8, "cube": 9, "sphere": 10, "teapot": 11}
    for name in ROOMS:
        mats = make_randomizer(name, 0).to_json()["materials"]
        assert {k: mats[k]["id"] for k in expected} == expected
        for k, m in mats.items():
            if k.startswith("light"):
                assert m["id"] == 6


def _room_stats(name, n=150):
    rz = make_randomizer(name, 123)
    scenes = []
    for _ in range(n):
        rz.random_scene()
        scenes.append(rz.to_json())
    return scenes


def _objects(scene):
    return [g for g in scene["geometry"] if g["material"] in room_module.OBJECTS]


def test_room_statistics():
    scenes = _room_stats("room")
    shown = np.mean([len(_objects(s)) for s in scenes]) / 5
    assert 0.38 < shown < 0.56  # p = 0.5, minus the few placements that fail
    for s in scenes:
        assert len(s["lights"]) == 1 and s["lights"][0]["radius"] == 0.125
        assert s["materials"]["light"]["emission"] == [35.0] * 3
        t = np.asarray(s["lights"][0]["transform"])[3, :3]
        assert -2.25 <= t[0] <= 2.25 and 1.0 <= t[1] <= 1.85 and -2.25 <= t[2] <= 2.25
        for name in list(room_module.OBJECTS) + list(room_module.WALLS):
            c = s["materials"][name]["color"]
            assert max(c) == pytest.approx(1.0) and min(c) == pytest.approx(0.0)  # HSV s = v = 1
        assert {s["materials"][o]["roughness"] for o in room_module.OBJECTS} <= {1.0, 0.5, 0.05}
        assert s["bounces"] == 4 and s["hide_lights"] is True
        cam = s["camera"]
        assert (cam["fov"], cam["near"], cam["far"]) == (75.0, 0.01, 100.0)
        assert 1.0 <= cam["position"][1] <= 2.0 and np.hypot(cam["position"][0], cam["position"][2]) <= 3 * 2 ** 0.5
        assert all(lo <= v <= hi for v, lo, hi in zip(cam["lookat"], (0, 0, 0), (1, 2, 1)))
    rough = [s["materials"][o]["roughness"] for s in scenes for o in room_module.OBJECTS]
    assert set(rough) == {1.0, 0.5, 0.05}


def test_many_light_variants():
    for name in ("manylightroom", "manymanyroom", "fewmaterialroom"):
        scenes = _room_stats(name, 100)
        counts = [len(s["lights"]) for s in scenes]
        assert min(counts) >= 1 and max(counts) <= 10 and 4.0 < np.mean(counts) < 6.0
        for s in scenes:
            for l in s["lights"]:
                e = s["materials"][l["material"]]["emission"]
                if name == "fewmaterialroom":
                    assert all(0.0 <= c <= 15.0 for c in e)
                else:
                    assert e[0] == e[1] == e[2] and 1.5 <= e[0] <= 15.0
        if name == "fewmaterialroom":
            coloured = [len(set(s["materials"][l["material"]]["emission"])) == 3 for s in scenes for l in s["lights"]]
            assert all(coloured)
            for s in scenes:
                for o in room_module.OBJECTS:
                    assert s["materials"][o]["color"] == [1.0] * 3 and s["materials"][o]["roughness"] == 1.0


def test_many_material_variants():
    for name in ("manymaterialroom", "manymanyroom"):
        scenes = _room_stats(name, 60)
        rough = np.array([s["materials"][o]["roughness"] for s in scenes for o in room_module.OBJECTS])
        assert rough.min() >= 0.05 and rough.max() <= 1.0 and len(set(rough.tolist())) > 100
        cols = np.array([s["materials"][o]["color"] for s in scenes for o in list(room_module.OBJECTS)
                         + list(room_module.WALLS)])
        assert 0.4 < cols.mean() < 0.6 and (cols.max(axis=1) < 0.999).mean() > 0.9  # uniform RGB, not hues
    assert all(len(s["lights"]) == 1 for s in _room_stats("manymaterialroom", 20))


def test_animate_view_is_a_smooth_closed_orbit():
    for name in ("room", "archviz"):
        rz = make_randomizer(name, 0)
        ts = np.linspace(0, 1, 201)
        pos = []
        for t in ts:
            rz.animate_view(t)
            pos.append(rz.camera["position"])
        pos = np.array(pos)
        assert np.allclose(pos[0], pos[-1])
        assert np.linalg.norm(np.diff(pos, axis=0), axis=1).max() < 0.15
    rz = make_randomizer("room", 0)
    rz.animate_view(0.0)
    assert np.allclose(rz.camera["position"], [0, 2.0, 2.5]) and rz.camera["lookat"] == [0, 0, 0]


# ---- layout of the reference scene files -----------------------------------------------------

def _kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        items = tuple(sorted({str(_kind(x)) for x in v}))
        # fixed-size vectors and matrices keep their length; lists of entries do not
        return ("list", len(v) if items != ("dict",) else None, items)
    if isinstance(v, dict):
        return "dict"
    return type(v).__name__


def _layout(entry):
    return {k: _kind(v) for k, v in entry.items()}


@pytest.mark.parametrize("name", DATASETS)
def test_json_layout_matches_reference_files(reference_scenes, name):
    ref = json.loads((reference_scenes / "manymanyroom_0.json").read_text())
    ours = make_randomizer(name, 4).to_json()
    assert list(ours) == list(ref)
    assert _layout(ours) == _layout(ref)
    assert _layout(ours["camera"]) == _layout(ref["camera"])
    ref_mat = _layout(next(iter(ref["materials"].values())))
    for m in ours["materials"].values():
        assert _layout(m) == ref_mat
    ref_geo = {}
    for g in ref["geometry"] + ref["lights"]:
        ref_geo.setdefault(g["type"], _layout(g))
    ref_geo.setdefault("grid", _layout(ref["geometry"][-1]))
    for g in ours["geometry"] + ours["lights"]:
        assert list(g)[:3] == ["transform", "material", "type"]
        assert _layout(g) == ref_geo[g["type"]], g["type"]
        assert g["material"] in ours["materials"]
        m = np.asarray(g["transform"])
        assert m.shape == (4, 4) and np.allclose(m[:, 3], [0, 0, 0, 1])


def test_room_matches_reference_conventions(reference_scenes):
    ref = json.loads((reference_scenes / "room_0.json").read_text())
    ours = make_randomizer("room", 0).to_json()
    assert list(ours["materials"]) == list(ref["materials"])
    assert {k: v["id"] for k, v in ours["materials"].items()} == {k: v["id"] for k, v in ref["materials"].items()}
    walls = [g for g in ours["geometry"] if g["type"] == "grid"]
    ref_walls = [g for g in ref["geometry"] if g["type"] == "grid"]
    assert walls == ref_walls
    files = {g["material"]: g["filename"] for g in ours["geometry"] if g["type"] == "file"}
    for s in ("room_0", "room_1", "fewmaterialroom_0", "manymanyroom_0"):
        for g in json.loads((reference_scenes / f"{s}.json").read_text())["geometry"]:
            if g["type"] == "file" and g["material"] in files:
                assert files[g["material"]] == g["filename"]
            if g["type"] == "sphere":
                assert g["position"] == [0.0, 0.5, 0.0] and g["radius"] == 0.5


@pytest.mark.parametrize("name", DATASETS)
def test_state_is_json_serialisable_and_restores(name):
    rz = make_randomizer(name, 21)
    state = json.loads(json.dumps(rz.state()))
    other = make_randomizer(name, 22)
    other.load_state(state)
    assert other.to_json()["geometry"] == rz.to_json()["geometry"]
    assert other.factor_parts()["material"] == rz.factor_parts()["material"]


def test_archviz_teapot_bounds_match_the_built_in_teapot():
    import cnsr.assets as assets
    from cnsr.scenes import archviz as av
    lo, hi = assets.get_mesh(av.TEAPOT_FILE).bounds
    assert np.allclose(lo, av.TEAPOT_BOUNDS[0], atol=0.01) and np.allclose(hi, av.TEAPOT_BOUNDS[1], atol=0.01)
    for name in room_module.OBJECTS:
        filename, radius = room_module.OBJECTS[name]
        if filename:
            v = assets.get_mesh(filename).vertices
            assert np.hypot(v[:, 0], v[:, 2]).max() <= radius + 0.01
