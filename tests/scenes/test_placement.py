"""Objects never intersect: PrimitiveRoom primitives (true mesh extents) and ArchViz furniture."""
import itertools
from pathlib import Path

import numpy as np
import pytest

import cnsr.assets as assets
from cnsr.scenes import make_randomizer
from cnsr.scenes import archviz as av
from cnsr.scenes import room as room_module
from cnsr.scenes.base import apply_transform
from cnsr.scenes.placement import rectangles_overlap


def _mesh_vertices(filename, reference_dir=None):
    """Vertices of a scene's mesh: the built-in asset, else the reference OBJ file."""
    if assets.has_mesh(filename):
        return np.asarray(assets.get_mesh(filename).vertices, dtype=np.float64)
    if reference_dir is not None and (Path(reference_dir) / filename).is_file():
        return np.asarray(assets.load_obj(str(Path(reference_dir) / filename)).vertices, dtype=np.float64)
    pytest.skip(f"mesh {filename} is neither built in nor available as a reference file")


def _room_world_points(scene, reference_dir):
    """Per object: world-space sample points of its surface (sphere: points on the sphere)."""
    out = []
    u = np.random.default_rng(0).normal(size=(400, 3))
    sphere = u / np.linalg.norm(u, axis=1, keepdims=True)
    for g in scene["geometry"]:
        if g["material"] not in room_module.OBJECTS:
            continue
        if g["type"] == "sphere":
            local = np.asarray(g["position"]) + g["radius"] * sphere
        else:
            local = _mesh_vertices(g["filename"], reference_dir)
        out.append((g["material"], apply_transform(g["transform"], local), np.asarray(g["transform"])[3, :3]))
    return out


@pytest.mark.parametrize("snap", [True, False])
def test_room_objects_never_intersect(snap, optional_reference_scenes):
    # the reference meshes when the test data is there, else the built-in ones
    ref = optional_reference_scenes
    rz = make_randomizer("room", 2024, snap_to_grid=snap)
    crowded = 0
    for _ in range(300):
        rz.random_scene()
        objs = _room_world_points(rz.to_json(), ref)
        crowded += len(objs) >= 4
        for name, pts, origin in objs:
            # standing on the floor, inside the walls
            assert pts[:, 1].min() >= room_module.FLOOR_Y - 0.02, name
            assert np.abs(pts[:, [0, 2]]).max() < room_module.HALF_ROOM, name
        for (na, pa, oa), (nb, pb, ob) in itertools.combinations(objs, 2):
            # true xz extents about each origin: bounding circles must not overlap
            ra = np.linalg.norm(pa[:, [0, 2]] - oa[[0, 2]], axis=1).max()
            rb = np.linalg.norm(pb[:, [0, 2]] - ob[[0, 2]], axis=1).max()
            d = np.linalg.norm(oa[[0, 2]] - ob[[0, 2]])
            assert d >= room_module.MIN_DISTANCE - 1e-9, (na, nb, d)
            assert d > ra + rb, (na, nb, d, ra, rb)
    assert crowded > 10  # the test saw busy rooms


def test_room_positions_snap_to_the_unit_grid_like_the_reference():
    rz = make_randomizer("room", 5)
    for _ in range(50):
        rz.random_scene()
        for g in rz.to_json()["geometry"]:
            if g["material"] in room_module.OBJECTS:
                t = np.asarray(g["transform"])[3]
                assert t[1] == room_module.FLOOR_Y and np.allclose(t[[0, 2]], np.round(t[[0, 2]]))


def test_rectangle_overlap_test():
    sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    assert rectangles_overlap(sq, sq + 0.5)
    assert not rectangles_overlap(sq, sq + [1.0, 0.0])  # touching
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    diamond = (sq - 0.5) @ np.array([[c, -s], [s, c]]) + [1.72, 0.5]  # corner reaches x = 1.0129
    assert not rectangles_overlap(sq, diamond)
    assert rectangles_overlap(sq, diamond - [0.05, 0.0])


def _archviz_scenes(n, seed=31):
    rz = make_randomizer("archviz", seed)
    for i in range(n):
        if i:
            rz.random_scene()
        yield rz


def test_archviz_furniture_inside_room_and_apart():
    kinds_seen = {}
    for rz in _archviz_scenes(120):
        boxes = rz.furniture_boxes()
        for kind, box in boxes:
            kinds_seen[kind] = kinds_seen.get(kind, 0) + 1
            assert box.inside(-av.HALF_X, av.HALF_X, -av.HALF_Z, av.HALF_Z, av.WALL_CLEARANCE - 1e-9), kind
            assert 0.0 <= box.y0 and box.y1 <= av.HEIGHT
        for (ka, a), (kb, b) in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), (ka, kb)
        teapots = [b for k, b in boxes if k == "teapot"]
        for t in teapots:  # stands on a table top
            tops = [b.y1 for k, b in boxes if k in ("table", "coffee_table") and rectangles_overlap(b.corners, t.corners)]
            assert tops and min(abs(t.y0 - y) for y in tops) < 1e-9
        rugs = [b for k, b in boxes if k == "rug"]
        for k, b in boxes:
            if rugs and k in ("sofa", "armchair", "coffee_table") and rectangles_overlap(b.corners, rugs[0].corners):
                assert b.y0 == pytest.approx(rugs[0].y1)  # on the rug, not through it
    n = 120
    assert kinds_seen["table"] / n > 0.75 and kinds_seen["sofa"] / n > 0.75       # absent with p = 0.125
    assert kinds_seen["table"] < n and kinds_seen["sofa"] < n
    assert 0.6 < kinds_seen["chair"] / (4 * kinds_seen["table"]) < 0.9           # p = 0.75 per chair
    assert kinds_seen["teapot"] > 0.8 * n


def test_archviz_meshes_match_their_boxes():
    """Transformed mesh vertices lie in the boxes used for layout (so the boxes are honest)."""
    for rz in _archviz_scenes(10, seed=4):
        scene = rz.to_json()
        boxes = rz.furniture_boxes()
        files = [g for g in scene["geometry"] if g["type"] == "file" and g["material"] not in ("lamp", "mirror_frame")]
        assert len(files) == len(boxes)
        for g, (kind, box) in zip(files, boxes):
            if kind == "teapot" and not assets.has_mesh(g["filename"]):
                continue
            pts = apply_transform(g["transform"], assets.get_mesh(g["filename"]).vertices)
            assert box.y0 - 1e-5 <= pts[:, 1].min() and pts[:, 1].max() <= box.y1 + 1e-5 + (0.02 if kind == "teapot" else 0)
            lo, hi = box.extent()
            assert (pts[:, [0, 2]] >= lo - 1e-5).all() and (pts[:, [0, 2]] <= hi + 1e-5).all() or kind == "teapot"


def test_archviz_lights_camera_and_mirror():
    for rz in _archviz_scenes(60, seed=8):
        s = rz.to_json()
        assert s["bounces"] == 8 and s["hide_lights"] is False
        cam = s["camera"]
        assert (cam["fov"], cam["near"], cam["far"]) == (45.0, 0.1, 10.0)
        p, l = np.asarray(cam["position"]), np.asarray(cam["lookat"])
        assert 1.4 <= p[1] <= 1.8 and abs(p[0]) < av.HALF_X and abs(p[2]) < av.HALF_Z
        assert np.hypot(*(l - p)[[0, 2]]) >= av.LOOK_DISTANCE or np.allclose(l, [0, 0.8, 0])
        mats = s["materials"]
        win = mats["window"]["emission"]
        lamp = mats["ceiling_light"]["emission"]
        assert all(15.0 <= e <= 23.5 for e in win) and all(10.0 <= e <= 16.0 for e in lamp)
        assert {l["material"] for l in s["lights"]} == {"window", "ceiling_light"}
        mirror = [g for g in s["geometry"] if g["material"] == "mirror"]
        assert len(mirror) == 1 and abs(abs(mirror[0]["position"][0]) - av.HALF_X) < 0.05
        assert mats["mirror"]["roughness"] == 0.05
        assert mats["wood"]["roughness"] in (0.5, 1.0)
        assert mats["teapot"]["roughness"] in (0.05, 0.5, 1.0)
        walls = [mats[w] for w in ("back_wall", "left_wall", "right_wall", "front_wall")]
        assert len({w["texture"] for w in walls}) == 1 and len({tuple(w["color"]) for w in walls}) == 1
        assert assets.has_texture(walls[0]["texture"])
        for g in s["geometry"]:
            if g["type"] == "file" and g["material"] != "teapot":
                assert assets.has_mesh(g["filename"]), g["filename"]
        ids = [m["id"] for m in mats.values()]
        assert sorted(set(ids)) == list(range(len(set(ids))))


def test_archviz_user_models_and_wallpapers(tmp_path):
    # a 100-unit cube standing off-centre: it must be re-centred and scaled to a sofa's size
    obj = tmp_path / "big_sofa.obj"
    v = [(x, y, z) for x in (300, 500) for y in (50, 150) for z in (0, 100)]
    obj.write_text("".join(f"v {x} {y} {z}\n" for x, y, z in v) + "f 1 2 3\n")
    rz = make_randomizer("archviz", 1, models={"sofa": [str(obj)]}, wallpapers=[str(tmp_path / "paper.png")])
    seen = 0
    for _ in range(10):
        rz.random_scene()
        s = rz.to_json()
        assert s["materials"]["back_wall"]["texture"].endswith("paper.png")
        for g in s["geometry"]:
            if g["type"] == "file" and g["filename"].endswith("big_sofa.obj"):
                seen += 1
                pts = apply_transform(g["transform"], np.asarray(v, float))
                assert pts[:, 1].min() == pytest.approx(0.0, abs=0.01)
                ext = pts[:, [0, 2]].max(0) - pts[:, [0, 2]].min(0)
                assert 1.9 < ext.max() < 2.9   # 2 m cube footprint, rotated
        for kind, box in rz.furniture_boxes():
            assert box.inside(-av.HALF_X, av.HALF_X, -av.HALF_Z, av.HALF_Z, av.WALL_CLEARANCE - 1e-9)
    assert seen >= 5
    with pytest.raises(ValueError, match="kind"):
        make_randomizer("archviz", 1, models={"bed": [str(obj)]})
    with pytest.raises(ValueError, match="no vertices"):
        empty = tmp_path / "empty.obj"
        empty.write_text("# nothing\n")
        make_randomizer("archviz", 1, models={"table": [str(empty)]})
