"""Small scenes with known answers, shared by the renderer tests (kept tiny: tests must be fast)."""
from __future__ import annotations

import copy
import math

import numpy as np

def material(color=(0.8, 0.8, 0.8), roughness=1.0, emission=(0.0, 0.0, 0.0), id=0, **kw):
    m = {"color": list(color), "emission": list(emission), "roughness": roughness, "ior": 15.0,
         "texture": "", "texture_frequency": [1.0, 1.0], "id": id}
    m.update(kw)
    return m


def translate(x, y, z):
    """Row-vector 4x4 translation (pyrr layout: translation in the last row)."""
    m = np.eye(4)
    m[3, :3] = [x, y, z]
    return m.tolist()


def plane_light_scene(rho=0.5, radius=0.2, height=1.5, emission=10.0, bounces=1, cam_height=3.0, fov=60.0):
    """A large diffuse floor (y = 0) lit by one sphere light straight above the origin; the camera
    looks straight down through the (hidden) light. Exitant radiance at floor point x:
    rho * Le * r^2 * h / d^3 with Le = emission / (4 pi r^2), d = |x - light centre|."""
    return {
        "bounces": bounces, "hide_lights": True,
        "camera": {"position": [0.0, cam_height, 1e-4], "lookat": [0.0, 0.0, 0.0], "fov": fov},
        "materials": {"floor": material((rho,) * 3, id=1), "light": material((0, 0, 0), emission=(emission,) * 3, id=2)},
        "geometry": [{"type": "grid", "material": "floor", "position": [0, 0, 0], "normal": [0, 1, 0], "size": [40, 1, 40]}],
        "lights": [{"type": "sphere", "material": "light", "position": [0, height, 0], "radius": radius}],
    }


def uv_sphere(radius=1.0, n_theta=48, n_phi=96, inward=True):
    """Triangulated sphere (vertices, faces, normals, polar angle of every face centre)."""
    th = np.linspace(0, np.pi, n_theta + 1)
    ph = np.linspace(0, 2 * np.pi, n_phi + 1)
    T, P = np.meshgrid(th, ph, indexing="ij")
    v = np.stack([np.sin(T) * np.cos(P), np.cos(T), np.sin(T) * np.sin(P)], -1).reshape(-1, 3) * radius
    faces = []
    W = n_phi + 1
    for i in range(n_theta):
        for j in range(n_phi):
            a, b, c, d = i * W + j, i * W + j + 1, (i + 1) * W + j + 1, (i + 1) * W + j
            if i != 0:
                faces.append((a, b, c))
            if i != n_theta - 1:
                faces.append((a, c, d))
    f = np.array(faces)
    n = v / radius * (-1 if inward else 1)
    # orient every triangle counter-clockwise about the wanted normal
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    flip = np.einsum("ij,ij->i", fn, n[f].mean(1)) < 0
    f[flip] = f[flip][:, [0, 2, 1]]
    centre_theta = np.arccos(np.clip(v[f].mean(1)[:, 1] / np.linalg.norm(v[f].mean(1), axis=1), -1, 1))
    return v, f, n, centre_theta


def triangle_areas(v, f):
    return 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)


def closed_sphere_scene(rho=0.6, cap_angle_deg=40.0, emission=5.0, bounces=2):
    """Camera at the centre of a closed, inward-facing sphere: a diffuse part (albedo rho) and an
    emissive polar cap. Returns (scene, expected radiance of the diffuse part, its direct part).
    Inside a sphere every point sees every area element with the same form factor dA / (4 pi R^2),
    so with a = cap area fraction and Le the cap radiance, after B scattering events
    L = rho a Le sum_{k<B} (rho (1 - a))^k."""
    v, f, n, ct = uv_sphere(1.0)
    cap = ct < math.radians(cap_angle_deg)
    areas = triangle_areas(v, f)
    a = areas[cap].sum() / areas.sum()
    le = emission / areas[cap].sum()
    expected = rho * a * le * sum((rho * (1 - a)) ** k for k in range(bounces))
    direct = rho * a * le
    scene = {
        "bounces": bounces, "hide_lights": False,
        "camera": {"position": [0, 0, 0], "lookat": [0, -1, 0.3], "fov": 40},
        "materials": {"wall": material((rho,) * 3, id=0), "cap": material((0, 0, 0), emission=(emission,) * 3, id=1)},
        "geometry": [
            {"type": "mesh", "material": "wall", "vertices": v, "faces": f[~cap], "normals": n},
            {"type": "mesh", "material": "cap", "vertices": v, "faces": f[cap], "normals": n},
        ],
    }
    return scene, expected, direct


def box_room(glossy=True, hide_lights=False, bounces=3, light_radius=0.15, emission=8.0):
    """A small closed room (walls, floor, ceiling facing inwards) with a sphere, a cube and one
    sphere light; optionally glossy and mirror objects."""
    mats = {
        "floor": material((0.7, 0.7, 0.7), id=0), "ceiling": material((0.8, 0.8, 0.8), id=1),
        "back": material((0.8, 0.2, 0.2), id=2), "left": material((0.2, 0.8, 0.2), id=3),
        "right": material((0.2, 0.2, 0.8), id=4), "front": material((0.8, 0.8, 0.2), id=5),
        "light": material((0, 0, 0), emission=(emission,) * 3, id=6),
        "ball": material((0.9, 0.5, 0.1), roughness=0.3 if glossy else 1.0, id=7),
        "cube": material((0.3, 0.6, 0.9), roughness=0.05 if glossy else 1.0, id=8),
    }
    g = [
        {"type": "grid", "material": "floor", "position": [0, 0, 0], "normal": [0, 1, 0], "size": [4, 1, 4]},
        {"type": "grid", "material": "ceiling", "position": [0, 2.5, 0], "normal": [0, -1, 0], "size": [4, 1, 4]},
        {"type": "grid", "material": "back", "position": [0, 1.25, -2], "normal": [0, 0, 1], "size": [4, 2.5, 1]},
        {"type": "grid", "material": "front", "position": [0, 1.25, 2], "normal": [0, 0, -1], "size": [4, 2.5, 1]},
        {"type": "grid", "material": "left", "position": [-2, 1.25, 0], "normal": [1, 0, 0], "size": [1, 2.5, 4]},
        {"type": "grid", "material": "right", "position": [2, 1.25, 0], "normal": [-1, 0, 0], "size": [1, 2.5, 4]},
        {"type": "sphere", "material": "ball", "position": [0, 0.5, 0], "radius": 0.5, "transform": translate(-0.6, 0, -0.3)},
        {"type": "file", "material": "cube", "filename": "cube", "transform": translate(0.8, 0, -0.5)},
    ]
    return {
        "bounces": bounces, "hide_lights": hide_lights,
        "camera": {"position": [0.3, 1.3, 1.9], "lookat": [0, 0.6, 0], "fov": 70},
        "materials": mats, "geometry": g,
        "lights": [{"type": "sphere", "material": "light", "position": [0.2, 1.9, 0.4], "radius": light_radius}],
    }


def copy_scene(scene):
    return copy.deepcopy(scene)
