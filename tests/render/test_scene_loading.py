"""Scene files: reference files load and render; every kind of bad input raises SceneError
naming the problem; textures, relative paths, the asset registry and the camera pose."""
import json
import shutil

import numpy as np
import pytest

from cnsr.render import Renderer, SceneError, look_at_pose
from render_helpers import box_room, material, translate

REFERENCE = ["room_0", "room_1", "manymanyroom_0", "manymanyroom_1", "fewmaterialroom_0", "fewmaterialroom_1"]


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_scene_files_render_all_passes(reference_scenes, name):
    r = Renderer(threads=2)
    cs = r.load_scene(reference_scenes / f"{name}.json")
    assert cs.hide_lights and cs.bounces == 4 and cs.num_lights >= 1
    out = r.render(size=16, spp=2, seed=0)
    assert len(out) == 16
    for k, a in out.items():
        assert np.isfinite(a).all(), k
    assert out["beauty"].mean() > 0.01
    assert (out["depth"] > 0).all()  # closed room
    np.testing.assert_allclose(r.pose(), look_at_pose(cs.camera.position, cs.camera.lookat), atol=1e-5)


def test_reference_scene_without_obj_files_uses_builtin_meshes(reference_scenes, tmp_path):
    """The reference names OBJs by basename; without the files the registry's meshes stand in."""
    src = reference_scenes / "fewmaterialroom_0.json"
    shutil.copy(src, tmp_path / "scene.json")
    r = Renderer(threads=2)
    r.load_scene(src)
    with_files = r.render(size=16, spp=16, seed=0, passes=["beauty", "id"])
    r.load_scene(tmp_path / "scene.json")
    builtin = r.render(size=16, spp=16, seed=0, passes=["beauty", "id"])
    assert abs(builtin["beauty"].mean() / with_files["beauty"].mean() - 1) < 0.05
    assert (np.isclose(builtin["id"], with_files["id"]).mean()) > 0.9


def test_string_path_and_dict_sources_agree(tmp_path):
    scene = box_room()
    scene["geometry"][7]["transform"] = np.asarray(scene["geometry"][7]["transform"]).tolist()
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scene))
    outs = []
    for src in (scene, json.dumps(scene), str(path), path):
        r = Renderer(threads=1)
        r.load_scene(src)
        outs.append(r.render(size=8, spp=2, seed=0, passes=["beauty"])["beauty"])
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)


def test_relative_obj_resolves_against_the_scene_folder(tmp_path):
    (tmp_path / "meshes").mkdir()
    (tmp_path / "meshes" / "tri.obj").write_text(
        "v -1 0 -1\nv 1 0 -1\nv 0 0 1\nvt 0 0\nvt 1 0\nvt 0.5 1\nf 1/1 3/3 2/2\n")
    scene = {"camera": {"position": [0, 2, 0.01], "lookat": [0, 0, 0], "fov": 60},
             "materials": {"m": material()},
             "geometry": [{"type": "file", "material": "m", "filename": "meshes/tri.obj"}]}
    (tmp_path / "scene.json").write_text(json.dumps(scene))
    r = Renderer()
    r.load_scene(tmp_path / "scene.json")
    out = r.render(size=8, spp=1, passes=["normal", "depth"])
    hit = out["depth"][..., 0] > 0
    assert hit.any()
    np.testing.assert_allclose(out["normal"][hit], [[0, 1, 0]] * int(hit.sum()), atol=1e-5)


def test_image_texture_modulates_colour_by_max_channel(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    # 2x2 texture: top-left red (max 1), top-right dark (0.2), bottom-left grey 0.6, bottom-right blue 0.8
    tex = np.array([[[255, 0, 0], [51, 20, 10]], [[153, 153, 153], [0, 0, 204]]], dtype=np.uint8)
    PIL.fromarray(tex).resize((64, 64), resample=0).save(tmp_path / "tex.png")
    scene = {"camera": {"position": [0, 0, 2], "lookat": [0, 0, 0], "fov": 60},
             "materials": {"wall": material((0.5, 1.0, 0.5), texture="tex.png", texture_frequency=[1, 1])},
             "geometry": [{"type": "grid", "material": "wall", "position": [0, 0, 0], "normal": [0, 0, 1], "size": [2, 2, 1]}]}
    (tmp_path / "scene.json").write_text(json.dumps(scene))
    r = Renderer()
    r.load_scene(tmp_path / "scene.json")
    alb = r.render(size=16, spp=1, passes=["albedo"])["albedo"]
    # the quad (2 wide at distance 2, fov 60) covers the middle ~14 px; sample each quadrant's centre
    col = np.array([0.5, 1.0, 0.5])
    np.testing.assert_allclose(alb[5, 5], col * 1.0, atol=0.02)    # top-left
    np.testing.assert_allclose(alb[5, 10], col * 0.2, atol=0.02)   # top-right
    np.testing.assert_allclose(alb[10, 5], col * 0.6, atol=0.02)   # bottom-left
    np.testing.assert_allclose(alb[10, 10], col * 0.8, atol=0.02)  # bottom-right


def test_registry_texture_and_frequency():
    from cnsr.assets import register_texture

    register_texture("test_checker", lambda: np.kron([[1.0, 0.0], [0.0, 1.0]], np.ones((4, 4)))[:, :, None].repeat(3, 2))
    scene = {"camera": {"position": [0, 0, 2], "lookat": [0, 0, 0], "fov": 60},
             "materials": {"wall": material((1, 1, 1), texture="test_checker", texture_frequency=[4, 4])},
             "geometry": [{"type": "grid", "material": "wall", "position": [0, 0, 0], "normal": [0, 0, 1], "size": [2, 2, 1]}]}
    r = Renderer()
    r.load_scene(scene)
    alb = r.render(size=32, spp=1, passes=["albedo"])["albedo"][..., 0]
    inner = alb[6:26, 6:26]
    assert 0.3 < inner.mean() < 0.7 and inner.max() > 0.95 and inner.min() < 0.05


BAD_CASES = {
    "unknown type": (lambda s: s["geometry"].append({"type": "torus", "material": "floor"}), "torus"),
    "missing material": (lambda s: s["geometry"][0].update(material="marble"), "marble"),
    "missing obj": (lambda s: s["geometry"].append({"type": "file", "material": "floor", "filename": "nope.obj"}), "nope.obj"),
    "bad matrix shape": (lambda s: s["geometry"][0].update(transform=[[1, 0, 0], [0, 1, 0], [0, 0, 1]]), "transform"),
    "nan in transform": (lambda s: s["geometry"][6].update(transform=[[float("nan"), 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "NaN"),
    "inf in transform": (lambda s: s["geometry"][6].update(transform=[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [float("inf"), 0, 0, 1]]), "transform"),
    "column-vector matrix": (lambda s: s["geometry"][6].update(transform=[[1, 0, 0, 2], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "row-vector"),
    "singular matrix": (lambda s: s["geometry"][6].update(transform=[[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "singular"),
    "negative radius": (lambda s: s["geometry"][6].update(radius=-1), "radius"),
    "non-numeric color": (lambda s: s["materials"]["floor"].update(color="red"), "color"),
    "nan position": (lambda s: s["geometry"][6].update(position=[0, float("nan"), 0]), "position"),
    "zero normal": (lambda s: s["geometry"][0].update(normal=[0, 0, 0]), "normal"),
    "missing texture": (lambda s: s["materials"]["floor"].update(texture="missing_wallpaper.png"), "missing_wallpaper"),
    "light of mesh type": (lambda s: s["lights"].append({"type": "file", "material": "light", "filename": "cube"}), "type"),
    "bad bounces": (lambda s: s.update(bounces=-2), "bounces"),
    "geometry not a list": (lambda s: s.update(geometry={"a": 1}), "geometry"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_raises_scene_error_naming_the_problem(case):
    edit, needle = BAD_CASES[case]
    scene = box_room()
    edit(scene)
    with pytest.raises(SceneError, match=needle) as e:
        Renderer().load_scene(scene)
    assert isinstance(e.value, ValueError)


def test_empty_scene_and_other_sources_raise(tmp_path):
    with pytest.raises(SceneError, match="empty"):
        Renderer().load_scene({"materials": {}, "geometry": [], "lights": []})
    with pytest.raises(SceneError, match="JSON"):
        Renderer().load_scene("{not json")
    with pytest.raises(SceneError, match="cannot read"):
        Renderer().load_scene(tmp_path / "missing.json")
    bad_obj = tmp_path / "bad.obj"
    bad_obj.write_text("v 0 0 0\nv 1 0 0\nf 1 2 9\n")
    s = box_room()
    s["geometry"].append({"type": "file", "material": "floor", "filename": str(bad_obj)})
    with pytest.raises(SceneError, match="bad.obj"):
        Renderer().load_scene(s)
    bad_png = tmp_path / "bad.png"
    bad_png.write_bytes(b"not a png")
    s = box_room()
    s["materials"]["floor"]["texture"] = str(bad_png)
    with pytest.raises(SceneError, match="bad.png"):
        Renderer().load_scene(s)


def test_render_without_scene_or_camera_raises():
    r = Renderer()
    with pytest.raises(SceneError, match="load_scene"):
        r.render(size=4, spp=1)
    s = box_room()
    del s["camera"]
    r.load_scene(s)
    with pytest.raises(SceneError, match="camera"):
        r.render(size=4, spp=1)
    r.set_camera([0, 1, 1.5], [0, 1, 0], fov=60)
    assert r.render(size=4, spp=1, passes=["depth"])["depth"].shape == (4, 4, 1)
    for bad in (dict(size=0), dict(spp=0), dict(size=2.5)):
        with pytest.raises(ValueError):
            r.render(**{"size": 4, "spp": 1, **bad})
    with pytest.raises(SceneError):
        r.set_camera([0, 1, 1], [0, 1, 1])
    with pytest.raises(SceneError):
        r.set_camera([0, float("nan"), 1], [0, 1, 0])


def test_pose_encoding():
    r = Renderer()
    r.load_scene(box_room())
    r.set_camera([1, 2, 3], [0, 1, 0])
    pose = r.pose()
    assert pose.dtype == np.float32 and pose.shape == (16,)
    m = pose.reshape(4, 4, order="F")  # column-major: translation at 12, 13, 14
    np.testing.assert_allclose(m[:3, 3], pose[12:15])
    np.testing.assert_allclose(m @ [1, 2, 3, 1], [0, 0, 0, 1], atol=1e-5)  # camera at the origin
    look = m @ [0, 1, 0, 1]
    assert look[2] < 0 and abs(look[0]) < 1e-5 and abs(look[1]) < 1e-5  # looking down -Z
    up = m[:3, :3] @ [0, 1, 0]
    assert up[1] > 0  # +Y up
    np.testing.assert_allclose(pose, look_at_pose([1, 2, 3], [0, 1, 0]), atol=1e-6)


def test_grid_light_is_a_square_of_half_size_max_size():
    scene = {"hide_lights": False, "camera": {"position": [0, -3, 1e-3], "lookat": [0, 0, 0], "fov": 90},
             "materials": {"light": material((0, 0, 0), emission=(4, 4, 4))},
             "lights": [{"type": "grid", "material": "light", "position": [0, 0, 0], "normal": [0, -1, 0],
                         "size": [0.5, 0, 0.25], "transform": translate(0, 0, 0)}]}
    r = Renderer()
    r.load_scene(scene)
    out = r.render(size=64, spp=1, passes=["beauty", "position"])
    hit = out["beauty"][..., 0] > 0
    p = out["position"][hit]
    assert np.abs(p[:, 0]).max() == pytest.approx(0.5, abs=0.06)
    assert np.abs(p[:, 2]).max() == pytest.approx(0.5, abs=0.06)
    assert hit.mean() * 6.0 ** 2 == pytest.approx(1.0, rel=0.1)  # area (2 * 0.5)^2 of the 6 x 6 view
    assert out["beauty"][32, 32, 0] == pytest.approx(4 / 1.0 ** 2, rel=1e-4)  # emission / area
