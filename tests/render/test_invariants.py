"""Invariants between passes that hold for any scene."""
import numpy as np
import pytest

from cnsr.render import Renderer, ray_directions
from render_helpers import box_room, material, translate


def render(scene, size=16, spp=8, seed=0, passes=None, **kw):
    r = Renderer(threads=2, **kw)
    r.load_scene(scene)
    return r.render(size=size, spp=spp, seed=seed, passes=passes), r


def test_one_bounce_has_no_indirect_light():
    out, _ = render(box_room(bounces=1), spp=8, passes=["beauty", "direct", "indirect"])
    np.testing.assert_allclose(out["indirect"], 0.0, atol=1e-5)
    np.testing.assert_allclose(out["direct"], out["beauty"], atol=1e-5)


def test_direct_never_exceeds_beauty_beyond_noise():
    out, _ = render(box_room(bounces=4), size=16, spp=64, passes=["beauty", "direct", "indirect"])
    assert out["indirect"].mean() > 0.0
    # indirect = beauty - direct per sample is a sum of non-negative contributions
    assert out["indirect"].min() >= -1e-4
    assert (out["direct"] <= out["beauty"] + 1e-4).all()


def test_no_glossy_materials_means_no_specular():
    out, _ = render(box_room(glossy=False, bounces=3), spp=8, passes=["beauty", "diffuse", "specular"])
    np.testing.assert_allclose(out["specular"], 0.0, atol=1e-5)
    # ... while glossy objects do produce a specular part
    out, _ = render(box_room(glossy=True, bounces=3), spp=32, passes=["specular"])
    assert out["specular"].mean() > 1e-3


def test_beauty_is_finite_and_non_negative():
    out, _ = render(box_room(), size=16, spp=16)
    for name in ("beauty", "direct", "diffuse"):
        assert np.isfinite(out[name]).all()
        assert out[name].min() >= 0.0


def test_position_is_camera_plus_depth_along_the_ray():
    """Per sample (spp = 1): |position - camera| = depth, and the direction lies within the pixel."""
    scene = box_room()
    size = 16
    out, r = render(scene, size=size, spp=1, passes=["position", "depth", "normal"])
    cam = np.array(scene["camera"]["position"])
    p, depth = out["position"], out["depth"][..., 0]
    hit = depth > 0
    assert hit.all()  # closed room
    dist = np.linalg.norm(p - cam, axis=-1)
    np.testing.assert_allclose(dist, depth, rtol=1e-4, atol=1e-4)
    dirs = (p - cam) / depth[..., None]
    centre = ray_directions(cam, scene["camera"]["lookat"], scene["camera"]["fov"], size)
    half_pixel = np.radians(scene["camera"]["fov"]) / size  # generous bound on the in-pixel angle
    angle = np.arccos(np.clip(np.einsum("ijk,ijk->ij", dirs, centre), -1, 1))
    assert angle.max() < half_pixel


def test_normals_are_unit_and_ids_are_normalised():
    scene = box_room()
    out, _ = render(scene, size=16, spp=1, passes=["normal", "id", "roughness", "albedo"])
    np.testing.assert_allclose(np.linalg.norm(out["normal"], axis=-1), 1.0, atol=1e-4)
    max_id = max(m["id"] for m in scene["materials"].values()) + 1
    allowed = {m["id"] / max_id for m in scene["materials"].values()}
    ids = np.unique(out["id"])
    assert all(min(abs(i - a) for a in allowed) < 1e-6 for i in ids)
    assert len(ids) >= 4
    rough = np.unique(out["roughness"])
    assert all(np.isclose(rough, v, atol=1e-6).any() for v in (1.0, 0.3, 0.05))
    assert all(min(abs(x - v) for v in (1.0, 0.3, 0.05)) < 1e-6 for x in rough)


def test_mirror_like_materials_have_no_albedo():
    scene = {"camera": {"position": [0, 0, 3], "lookat": [0, 0, 0], "fov": 30},
             "materials": {"mirror": material((0.9, 0.9, 0.9), roughness=0.05), "light": material(emission=(1, 1, 1))},
             "geometry": [{"type": "sphere", "material": "mirror", "position": [0, 0, 0], "radius": 1.0}],
             "lights": [{"type": "sphere", "material": "light", "position": [0, 3, 3], "radius": 0.2}]}
    out, _ = render(scene, size=8, spp=1, passes=["albedo", "depth"])
    assert (out["depth"] > 0).any()
    np.testing.assert_array_equal(out["albedo"], 0.0)


def test_mirror_hit_lies_on_the_reflected_ray():
    scene = box_room()
    out, _ = render(scene, size=16, spp=1, passes=["position", "normal", "depth", "mirror", "mirror_hit", "mirror_normal"])
    cam = np.array(scene["camera"]["position"])
    d = (out["position"] - cam) / out["depth"]
    n = out["normal"]
    refl = d - 2 * np.einsum("ijk,ijk->ij", d, n)[..., None] * n
    np.testing.assert_allclose(out["mirror"], refl, atol=2e-3)
    seg = out["mirror_hit"] - out["position"]
    seg /= np.linalg.norm(seg, axis=-1, keepdims=True)
    np.testing.assert_allclose(np.einsum("ijk,ijk->ij", seg, out["mirror"]), 1.0, atol=2e-3)
    np.testing.assert_allclose(np.linalg.norm(out["mirror_normal"], axis=-1), 1.0, atol=1e-4)


def test_hidden_lights_are_invisible_and_cast_no_pass_shadows():
    """A big light in front of the camera is visible without hide_lights and transparent with it;
    with hidden lights it also casts no shadow in the shadows pass."""
    def scene(hide, camera):
        return {"bounces": 1, "hide_lights": hide,
                "camera": {"position": camera, "lookat": [0, 1, -1], "fov": 20},
                "materials": {"wall": material((0.5, 0.5, 0.5), id=1), "light": material((0, 0, 0), emission=(20,) * 3, id=2),
                              "lamp": material((0, 0, 0), emission=(5,) * 3, id=3)},
                "geometry": [{"type": "grid", "material": "wall", "position": [0, 1, -1], "normal": [0, 0, 1], "size": [20, 20, 1]}],
                "lights": [{"type": "sphere", "material": "light", "position": [0, 1, 1], "radius": 0.3},
                           {"type": "sphere", "material": "lamp", "position": [0, 1, 2], "radius": 0.05}]}
    passes = ["beauty", "depth", "id", "shadows"]
    c = 4  # centre pixel
    # 1. looking straight through both lights at the wall point (0, 1, -1)
    shown, _ = render(scene(False, [0, 1, 3.5]), size=9, spp=4, passes=passes)
    hidden, _ = render(scene(True, [0, 1, 3.5]), size=9, spp=4, passes=passes)
    le = 5 / (4 * np.pi * 0.05 ** 2)  # the lamp is first along the ray
    assert shown["beauty"][c, c, 0] == pytest.approx(le, rel=1e-3)
    assert shown["depth"][c, c, 0] == pytest.approx(1.45, abs=0.01)
    assert shown["shadows"][c, c, 0] == 1.0  # the camera ray hits an emitter
    assert hidden["depth"][c, c, 0] == pytest.approx(4.5, abs=0.01)  # the wall behind both
    assert hidden["beauty"][c, c, 0] < 2.0
    assert hidden["id"][c, c, 0] == pytest.approx(1 / 4)
    # 2. seen from the side, the wall point has the lamp hidden behind the big light
    shown, _ = render(scene(False, [1.5, 1, 3]), size=9, spp=4, passes=passes)
    hidden, _ = render(scene(True, [1.5, 1, 3]), size=9, spp=4, passes=passes)
    assert shown["depth"][c, c, 0] == pytest.approx(np.hypot(1.5, 4), abs=0.05)
    assert shown["shadows"][c, c, 0] == pytest.approx(0.5)
    assert hidden["shadows"][c, c, 0] == 1.0


def test_shadows_pass_is_zero_behind_an_occluder_and_one_in_the_open():
    # a floating slab (two one-sided quads) at y = 1.5 above x = -2, a small light above it; the
    # camera looks from the side, under the slab
    scene = {"bounces": 1, "hide_lights": True,
             "camera": {"position": [0.5, 0.7, 0], "lookat": [-2, 0.2, 0], "fov": 80},
             "materials": {"floor": material(), "block": material(), "light": material((0, 0, 0), emission=(5,) * 3)},
             "geometry": [{"type": "grid", "material": "floor", "position": [0, 0, 0], "normal": [0, 1, 0], "size": [20, 1, 20]},
                          {"type": "grid", "material": "block", "position": [-2, 1.5, 0], "normal": [0, 1, 0], "size": [2, 1, 2]},
                          {"type": "grid", "material": "block", "position": [-2, 1.499, 0], "normal": [0, -1, 0], "size": [2, 1, 2]}],
             "lights": [{"type": "sphere", "material": "light", "position": [-2, 3, 0], "radius": 0.05}]}
    out, _ = render(scene, size=32, spp=1, passes=["shadows", "position"])
    p, s = out["position"], out["shadows"][..., 0]
    on_floor = np.abs(p[..., 1]) < 1e-3
    # the slab's shadow from a light twice as high is twice its size: all of its footprint is umbra
    under = on_floor & (np.abs(p[..., 0] + 2) < 1.0) & (np.abs(p[..., 2]) < 1.0)
    open_ = on_floor & ((p[..., 0] > 0.5) | (np.abs(p[..., 2]) > 2.5))
    assert under.sum() > 3 and open_.sum() > 20
    assert (s[under] == 0.0).all()
    assert (s[open_] == 1.0).all()
    # the underside of the slab faces away from the light
    below = np.abs(p[..., 1] - 1.499) < 1e-3
    assert below.sum() > 3 and (s[below] == 0.0).all()


def test_ambient_occlusion_is_one_in_the_open_and_lower_in_corners():
    out, _ = render(box_room(), size=16, spp=32, passes=["ao", "position"])
    ao = out["ao"][..., 0]
    assert 0.0 <= ao.min() and ao.max() <= 1.0
    scene = {"camera": {"position": [0, 3, 1e-3], "lookat": [0, 0, 0], "fov": 40},
             "materials": {"floor": material()},
             "geometry": [{"type": "grid", "material": "floor", "position": [0, 0, 0], "normal": [0, 1, 0], "size": [9, 1, 9]}]}
    out2, _ = render(scene, size=8, spp=4, passes=["ao"])
    np.testing.assert_array_equal(out2["ao"], 1.0)
    assert ao.mean() < 0.95


def test_visible_false_removes_an_object():
    scene = box_room()
    out, _ = render(scene, size=16, spp=1, passes=["id"])
    scene["geometry"][6]["visible"] = False  # the ball
    out2, _ = render(scene, size=16, spp=1, passes=["id"])
    ball_id = scene["materials"]["ball"]["id"] / 9
    assert np.isclose(out["id"], ball_id).any() and not np.isclose(out2["id"], ball_id).any()


def test_row_vector_transform_moves_objects():
    base = {"camera": {"position": [0, 0, 5], "lookat": [0, 0, 0], "fov": 60},
            "materials": {"m": material()},
            "geometry": [{"type": "sphere", "material": "m", "position": [0, 0, 0], "radius": 0.5,
                          "transform": translate(1.5, 0, 0)}]}
    out, _ = render(base, size=16, spp=1, passes=["position", "depth"])
    hit = out["depth"][..., 0] > 0
    centre = out["position"][hit].mean(axis=0)
    assert centre[0] == pytest.approx(1.5, abs=0.1)
    cols = np.nonzero(hit.any(axis=0))[0]
    assert cols.min() > 8  # right half of the image


def test_nee_and_bsdf_sampling_agree():
    """With and without light sampling the estimator converges to the same image (MIS is unbiased)."""
    scene = box_room(glossy=True, bounces=2, light_radius=0.4, emission=10.0)
    a, _ = render(scene, size=8, spp=256, seed=1, passes=["beauty"])
    b, _ = render(scene, size=8, spp=1024, seed=2, passes=["beauty"], nee=False)
    assert a["beauty"].mean() == pytest.approx(b["beauty"].mean(), rel=0.05)
