"""Closed-form checks of whole renders: closed furnace sphere, white furnaces, sphere and quad
light irradiance. (The BSDF and the light sampler on their own: test_bsdf.py,
test_light_sampling.py.)"""
import math

import numpy as np
import pytest

from cnsr.render import Renderer
from render_helpers import closed_sphere_scene, material, plane_light_scene


@pytest.mark.parametrize("bounces", [1, 2, 4])
def test_closed_sphere_furnace(bounces):
    """Inside a closed diffuse sphere with an emissive cap, L = rho a Le sum_{k<B} (rho (1-a))^k."""
    scene, expected, direct = closed_sphere_scene(rho=0.6, bounces=bounces)
    r = Renderer(threads=2)
    r.load_scene(scene)
    out = r.render(size=16, spp=384, seed=1, passes=["beauty", "direct", "indirect"])
    assert out["beauty"].mean() == pytest.approx(expected, rel=0.025)
    assert out["direct"].mean() == pytest.approx(direct, rel=0.025)
    assert out["indirect"].mean() == pytest.approx(expected - direct, abs=0.025 * expected)


def test_white_furnace_open_sphere():
    """A diffuse sphere (albedo rho) under a uniform sky L reflects exactly rho L (every bounce
    escapes), with zero variance; the background shows L."""
    rho, sky = 0.7, 2.0
    scene = {"bounces": 3, "background": [sky] * 3,
             "camera": {"position": [0, 0, 3], "lookat": [0, 0, 0], "fov": 40},
             "materials": {"m": material((rho,) * 3, id=1)},
             "geometry": [{"type": "sphere", "material": "m", "position": [0, 0, 0], "radius": 0.8}]}
    r = Renderer(threads=2)
    r.load_scene(scene)
    out = r.render(size=24, spp=16, seed=0, passes=["beauty", "id", "diffuse"])
    coverage = out["id"][..., 0] / 0.5  # id = 1 / maxId = 0.5 where the sphere is hit
    expected = sky * (1 - coverage) + rho * sky * coverage
    np.testing.assert_allclose(out["beauty"][..., 0], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["diffuse"], out["beauty"], rtol=1e-5, atol=1e-6)


def test_white_furnace_glossy_conserves_energy():
    """A glossy white sphere under a uniform sky never reflects more than it receives."""
    scene = {"bounces": 4, "background": [1.0] * 3,
             "camera": {"position": [0, 0, 3], "lookat": [0, 0, 0], "fov": 25},
             "materials": {"m": material((1.0,) * 3, roughness=0.4)},
             "geometry": [{"type": "sphere", "material": "m", "position": [0, 0, 0], "radius": 0.8}]}
    r = Renderer(threads=2)
    r.load_scene(scene)
    b = r.render(size=16, spp=64, seed=0, passes=["beauty"])["beauty"]
    assert 0.5 < b.mean() <= 1.0 + 0.01


@pytest.mark.parametrize("nee, spp, tol", [(True, 256, 0.04), (False, 1024, 0.06)])
def test_sphere_light_irradiance_on_plane(nee, spp, tol):
    """Radiance of a diffuse plane lit by a sphere light: rho Le r^2 h / d^3 (the light fully
    above the horizon). With NEE the cone sampling is nearly noise-free; without, BSDF sampling
    must agree (MIS and emitter radiance are consistent)."""
    rho, r_, h, emission = 0.5, 0.25, 1.2, 10.0
    le = emission / (4 * math.pi * r_ ** 2)
    assert le < 25  # no firefly clamping in this test
    R = Renderer(threads=2, nee=nee)
    R.load_scene(plane_light_scene(rho, r_, h, emission, bounces=1))
    out = R.render(size=16, spp=spp, seed=2, passes=["beauty", "position"])
    p = out["position"]
    d = np.sqrt(p[..., 0] ** 2 + p[..., 2] ** 2 + h * h)
    ref = rho * le * r_ ** 2 * h / d ** 3
    rel = out["beauty"][..., 0] / ref - 1
    assert abs(rel.mean()) < tol / 2
    if nee:
        assert np.abs(rel).max() < tol


def _polygon_irradiance(p, n, verts, radiance):
    """Lambert's formula: irradiance at p (normal n) from a uniform polygon of given radiance."""
    u = [(v - p) / np.linalg.norm(v - p) for v in verts]
    e = 0.0
    for i in range(len(u)):
        a, b = u[i], u[(i + 1) % len(u)]
        c = np.cross(a, b)
        e += math.acos(np.clip(np.dot(a, b), -1, 1)) * np.dot(c / np.linalg.norm(c), n)
    return 0.5 * radiance * abs(e)


def test_quad_light_irradiance_below_center():
    """A square light of half-size max(size), emitting emission / area downwards, over a diffuse floor."""
    rho, h, size, emission = 0.5, 1.0, 0.3, 6.0
    half = size  # grid lights are squares of half-size max(size)
    area = (2 * half) ** 2
    scene = {
        "bounces": 1, "hide_lights": True,
        "camera": {"position": [0, 2.5, 1e-4], "lookat": [0, 0, 0], "fov": 0.5},
        "materials": {"floor": material((rho,) * 3), "light": material((0, 0, 0), emission=(emission,) * 3)},
        "geometry": [{"type": "grid", "material": "floor", "position": [0, 0, 0], "normal": [0, 1, 0], "size": [20, 1, 20]}],
        "lights": [{"type": "grid", "material": "light", "position": [0, h, 0], "normal": [0, -1, 0],
                    "size": [size, 0.0, size]}],
    }
    R = Renderer(threads=2)
    R.load_scene(scene)
    b = R.render(size=2, spp=4096, seed=0, passes=["beauty"])["beauty"].mean()
    corners = [np.array([x, h, z]) for x, z in ((-half, -half), (half, -half), (half, half), (-half, half))]
    e = _polygon_irradiance(np.zeros(3), np.array([0, 1.0, 0]), corners, emission / area)
    assert b == pytest.approx(rho / math.pi * e, rel=0.02)
