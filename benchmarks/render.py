#!/usr/bin/env python3
"""Renderer throughput on several kinds of scene, against Mitsuba 3 and a baseline build, in one run.

Scenes (``--scenes``, default all): ``glossy``, the built-in PrimitiveRoom-like room (6 x 3 x 6
room, sphere, cube, dodecahedron, cylinder and Utah teapot with diffuse, glossy and mirror
materials, one sphere light hidden from the camera); ``cornell``, a built-in all-diffuse
Cornell-style box with a visible square ceiling light; and every scene file in ``examples/``
(``archviz`` is an ArchViz room). Each at every ``--sizes`` (64 = dataset size, 256) with
``--spp`` samples at 64 px and ``--spp_large`` at larger sizes, the scene's own bounces,
``--threads`` (2). Timed, interleaved so that load changes hit every contender alike:

1. ours, beauty only; 2. ours, all 16 passes; 3. with ``--baseline_module FILE`` the same two
   with another build of the renderer loaded beside ours (``benchmarks/build_renderer_baseline.sh``
   builds one from a git revision, e.g. main) -- the before/after comparison;
4. Mitsuba 3 (``llvm_ad_rgb`` when LLVM loads, else ``scalar_rgb``) with its ``path`` integrator at the
   same spp and path depth (``max_depth = bounces + 1``, no Russian roulette, emitters hidden
   as in the scene), the same geometry and lights and an equivalent material mix (textures are
   left out: Mitsuba shades with the material colour).

Kernels are warmed up (JIT) before timing. Reported per scene and size: best and median wall
time, the process CPU time of each render (all threads; much steadier than wall time when other
jobs share the machine), million rays per second (Mitsuba: our ray count for the same paths),
and the ratios the project tracks:

    all 16 passes / beauty only          (target <= 1.3)
    Mitsuba time / our beauty time       (target >= 1 on every scene, >= 1.5 on glossy)
    baseline time / our time             (the speed-up of the change under test)

    python benchmarks/render.py                                  # every scene, 64 and 256 px
    python benchmarks/render.py --scenes glossy,fewmaterialroom --sizes 64
    python benchmarks/render.py --scene_file my_scene.json       # any scene file
    bash benchmarks/build_renderer_baseline.sh main && \
        python benchmarks/render.py --baseline_module build/baseline/_renderer_<sha>.so
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # idle BLAS threads would steal a core
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "code"))

import cnsr  # noqa: E402
from cnsr import _renderer as ours_renderer  # noqa: E402
from cnsr.render import Renderer  # noqa: E402
from cnsr.render.scene import grid_quad, read_scene  # noqa: E402
from machine import cpu_name  # noqa: E402


def rot_y(deg: float, x: float, z: float, y: float = -0.5):
    """Row-vector transform: rotation about Y then translation (as the reference's randomizers)."""
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return [[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [x, y, z, 1]]


def primitive_room() -> dict:
    def mat(color, roughness=1.0, emission=(0, 0, 0), id=0):
        return {"color": list(color), "emission": list(emission), "roughness": roughness, "ior": 15.0,
                "texture": "", "texture_frequency": [1.0, 1.0], "id": id}

    walls = [("ground", [0, -0.5, 0], [0, 1, 0], [6, 1, 6], (1, 1, 1)), ("ceiling", [0, 2.5, 0], [0, -1, 0], [6, 1, 6], (1, 1, 1)),
             ("back_wall", [0, 1, -3], [0, 0, 1], [6, 3, 1], (1, 0, 0.2)), ("front_wall", [0, 1, 3], [0, 0, -1], [6, 3, 1], (0, 0.1, 1)),
             ("left_wall", [-3, 1, 0], [1, 0, 0], [1, 3, 6], (0, 0.3, 1)), ("right_wall", [3, 1, 0], [-1, 0, 0], [1, 3, 6], (1, 0.9, 0))]
    materials = {name: mat(col, id=i) for i, (name, _, _, _, col) in enumerate(walls)}
    geometry = [{"type": "grid", "material": n, "position": p, "normal": nn, "size": s,
                 "transform": rot_y(0, 0, 0, 0)} for n, p, nn, s, _ in walls]
    materials["light"] = mat((0, 0, 0), emission=(35, 35, 35), id=6)
    objects = [("dodecahedron", "file", "dodecahedron.obj", 1.0, (0.5, 1, 0), 7, (1.8, 1.2), 40),
               ("cylinder", "file", "cylinder.obj", 0.5, (0, 1, 0.8), 8, (0.2, -2.0), 10),
               ("cube", "file", "cube_bigger.obj", 1.0, (1, 0.4, 0), 9, (-1.7, -1.2), 25),
               ("sphere", "sphere", None, 0.05, (1, 0.1, 0), 10, (-1.5, 1.4), 0),
               ("teapot", "file", "teapot2.obj", 0.5, (1, 0, 0.9), 11, (0.2, 0.3), 120)]
    for name, kind, fname, rough, col, mid, (x, z), deg in objects:
        materials[name] = mat(col, rough, id=mid)
        g = {"type": kind, "material": name, "transform": rot_y(deg, x, z)}
        if kind == "sphere":
            g.update(position=[0, 0.5, 0], radius=0.5)
        else:
            g.update(filename=fname)
        geometry.append(g)
    return {"seed": 0, "bounces": 4, "hide_lights": True,
            "camera": {"position": [-1.8, 1.3, 2.4], "lookat": [0.4, 0.6, -0.6], "fov": 75.0, "near": 0.01, "far": 100.0},
            "materials": materials, "geometry": geometry,
            "lights": [{"type": "sphere", "material": "light", "position": [0, 0.5, 0], "radius": 0.125,
                        "transform": rot_y(0, 0.6, 0.9, 1.1)}]}


def cornell_room() -> dict:
    """An all-diffuse Cornell-style box (2 x 2 x 2, red and green side walls, two white blocks)
    lit by a visible square light under the ceiling; 4 bounces."""
    def mat(color, emission=(0, 0, 0), id=0):
        return {"color": list(color), "emission": list(emission), "roughness": 1.0, "ior": 15.0,
                "texture": "", "texture_frequency": [1.0, 1.0], "id": id}

    white, red, green = (0.73, 0.73, 0.73), (0.65, 0.05, 0.05), (0.12, 0.45, 0.15)
    walls = [("floor", [0, 0, 0], [0, 1, 0], white), ("ceiling", [0, 2, 0], [0, -1, 0], white),
             ("back", [0, 1, -1], [0, 0, 1], white), ("left", [-1, 1, 0], [1, 0, 0], red),
             ("right", [1, 1, 0], [-1, 0, 0], green)]
    materials = {n: mat(c, id=i) for i, (n, _, _, c) in enumerate(walls)}
    materials["block"] = mat(white, id=5)
    materials["light"] = mat((0, 0, 0), emission=(17, 12, 4), id=6)
    geometry = [{"type": "grid", "material": n, "position": p, "normal": nn, "size": [2, 2, 2],
                 "transform": rot_y(0, 0, 0, 0)} for n, p, nn, _ in walls]
    S = lambda k, deg, x, z, y=0.0: [[k * math.cos(math.radians(deg)), 0, k * math.sin(math.radians(deg)), 0],  # noqa: E731
                                     [0, k * (2 if y else 1), 0, 0],
                                     [-k * math.sin(math.radians(deg)), 0, k * math.cos(math.radians(deg)), 0], [x, 0, z, 1]]
    geometry += [{"type": "file", "material": "block", "filename": "cube_bigger.obj", "transform": S(0.3, 18, 0.35, 0.3)},
                 {"type": "file", "material": "block", "filename": "cube_bigger.obj", "transform": S(0.3, -20, -0.35, -0.35, 1)}]
    return {"seed": 0, "bounces": 4, "hide_lights": False,
            "camera": {"position": [0, 1, 3.4], "lookat": [0, 1, 0], "fov": 40.0, "near": 0.01, "far": 100.0},
            "materials": materials, "geometry": geometry,
            "lights": [{"type": "grid", "material": "light", "position": [0, 1.98, 0], "normal": [0, -1, 0],
                        "size": [0.25, 0.25, 0.25], "transform": rot_y(0, 0, 0, 0)}]}


def _mat(color, roughness=1.0, emission=(0, 0, 0), id=0, texture="", freq=(1.0, 1.0)):
    return {"color": list(color), "emission": list(emission), "roughness": roughness, "ior": 15.0,
            "texture": texture, "texture_frequency": list(freq), "id": id}


def _wall_meshes(w: float, h: float, d: float, cells: int = 1) -> dict:
    """The six inward-facing walls of an axis-aligned w x h x d room (floor at y = 0, centred on
    x = z = 0), each a mesh of cells x cells quads (two triangles each) with uvs 0..1."""
    x0, x1, z0, z1 = -w / 2, w / 2, -d / 2, d / 2
    corners = {  # origin, edge u, edge v: u x v points into the room
        "floor": ((x0, 0, z1), (w, 0, 0), (0, 0, -d)), "ceiling": ((x0, h, z0), (w, 0, 0), (0, 0, d)),
        "back": ((x0, 0, z0), (w, 0, 0), (0, h, 0)), "front": ((x1, 0, z1), (-w, 0, 0), (0, h, 0)),
        "left": ((x0, 0, z1), (0, 0, -d), (0, h, 0)), "right": ((x1, 0, z0), (0, 0, d), (0, h, 0))}
    k = np.arange(cells + 1) / cells
    U, V = np.meshgrid(k, k, indexing="ij")
    idx = np.arange((cells + 1) ** 2).reshape(cells + 1, cells + 1)
    a, b, c, e = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, e], 1)])
    out = {}
    for name, (o, eu, ev) in corners.items():
        v = np.asarray(o, float) + U.reshape(-1, 1) * np.asarray(eu, float) + V.reshape(-1, 1) * np.asarray(ev, float)
        out[name] = {"type": "mesh", "vertices": v, "faces": faces, "uvs": np.stack([U.ravel(), V.ravel()], 1)}
    return out


def heldout_room(kind: str) -> dict:
    """Rooms unlike the training families (walls as axis-aligned meshes, visible lights), 4 bounces:
    ``diffuse``: the held-out scene of the issue: all diffuse, a diffuse sphere, one visible sphere light;
    ``glossy``: glossy walls (subdivided meshes), a glossy teapot and sphere, two visible sphere lights;
    ``textured``: wallpapered walls and a wooden floor (textures, uvs), furniture meshes, a visible
    square ceiling light and a sphere lamp."""
    cols = {"floor": (0.7, 0.7, 0.7), "ceiling": (0.8, 0.8, 0.8), "back": (0.75, 0.3, 0.25),
            "front": (0.6, 0.6, 0.6), "left": (0.25, 0.6, 0.3), "right": (0.3, 0.35, 0.7)}
    rough = {"diffuse": {}, "glossy": {"floor": 0.3, "back": 0.2, "left": 0.5, "right": 0.45},
             "textured": {"floor": 0.6}}[kind]
    tex = {"textured": {"floor": ("floor_planks", (3, 3)), "back": ("wallpaper_damask", (4, 2)),
                        "left": ("wallpaper_stripes", (4, 2)), "right": ("wallpaper_checks", (4, 2)),
                        "front": ("wallpaper_brick", (3, 2))}}.get(kind, {})
    walls = _wall_meshes(4.0, 2.6, 4.0, cells=8 if kind == "glossy" else 1)
    materials, geometry = {}, []
    for i, (name, g) in enumerate(walls.items()):
        t, f = tex.get(name, ("", (1.0, 1.0)))
        materials[name] = _mat(cols[name], rough.get(name, 1.0), id=i, texture=t, freq=f)
        geometry.append(dict(g, material=name))
    lights = []
    if kind == "diffuse":
        materials["ball"] = _mat((0.8, 0.6, 0.2), id=6)
        geometry.append({"type": "sphere", "material": "ball", "position": [-0.5, 0.6, -0.4], "radius": 0.6})
        materials["light"] = _mat((0, 0, 0), emission=(20, 20, 20), id=7)
        lights.append({"type": "sphere", "material": "light", "position": [0.8, 1.9, -0.6], "radius": 0.2})
    elif kind == "glossy":
        materials["teapot"] = _mat((0.9, 0.8, 0.3), 0.25, id=6)
        materials["ball"] = _mat((0.2, 0.4, 0.9), 0.1, id=7)
        geometry += [{"type": "file", "material": "teapot", "filename": "teapot2.obj", "transform": rot_y(30, -0.6, -0.5, 0.0)},
                     {"type": "sphere", "material": "ball", "position": [0.9, 0.45, 0.1], "radius": 0.45}]
        materials["light"] = _mat((0, 0, 0), emission=(12, 11, 10), id=8)
        lights += [{"type": "sphere", "material": "light", "position": [-0.9, 2.0, 0.6], "radius": 0.15},
                   {"type": "sphere", "material": "light", "position": [1.2, 1.7, -1.2], "radius": 0.12}]
    else:
        for mid, (name, mesh, col, x, z, deg) in enumerate([
                ("sofa", "sofa_b", (0.35, 0.4, 0.6), -0.3, -1.5, 0), ("table", "coffee_table_b", (0.5, 0.35, 0.2), -0.2, -0.4, 0),
                ("chair", "armchair_a", (0.6, 0.25, 0.2), 1.3, -0.2, -70)]):
            materials[name] = _mat(col, 0.8, id=6 + mid)
            geometry.append({"type": "file", "material": name, "filename": mesh, "transform": rot_y(deg, x, z, 0.0)})
        materials["panel"] = _mat((0, 0, 0), emission=(10, 10, 9), id=9)
        materials["lamp"] = _mat((0, 0, 0), emission=(4, 3.5, 3), id=10)
        lights += [{"type": "grid", "material": "panel", "position": [0, 2.58, -0.3], "normal": [0, -1, 0], "size": [0.35, 0, 0.35]},
                   {"type": "sphere", "material": "lamp", "position": [-1.6, 1.2, 1.4], "radius": 0.1}]
    return {"seed": 0, "bounces": 4, "hide_lights": False,
            "camera": {"position": [0.2, 1.3, 1.9], "lookat": [0.0, 1.0, -1.0], "fov": 60.0, "near": 0.01, "far": 100.0},
            "materials": materials, "geometry": geometry, "lights": lights}


def sphere_field(count: int = 400) -> dict:
    """Many small spheres (radius 0.04 - 0.12, diffuse and glossy) scattered in a 6 x 3 x 6 room of
    grids, one visible sphere light; 4 bounces."""
    rng = np.random.default_rng(0)
    walls = [("floor", [0, 0, 0], [0, 1, 0]), ("ceiling", [0, 3, 0], [0, -1, 0]), ("back", [0, 1.5, -3], [0, 0, 1]),
             ("front", [0, 1.5, 3], [0, 0, -1]), ("left", [-3, 1.5, 0], [1, 0, 0]), ("right", [3, 1.5, 0], [-1, 0, 0])]
    materials = {n: _mat((0.75, 0.72, 0.7), id=i) for i, (n, _, _) in enumerate(walls)}
    geometry = [{"type": "grid", "material": n, "position": p, "normal": nn, "size": [6, 3, 6]} for n, p, nn in walls]
    for k in range(8):
        materials[f"s{k}"] = _mat(rng.uniform(0.1, 0.9, 3), [1.0, 0.4, 0.15][k % 3], id=6 + k)
    for i in range(count):
        geometry.append({"type": "sphere", "material": f"s{i % 8}", "radius": float(rng.uniform(0.04, 0.12)),
                         "position": [float(rng.uniform(-2.7, 2.7)), float(rng.uniform(0.1, 2.6)), float(rng.uniform(-2.7, 1.0))]})
    materials["light"] = _mat((0, 0, 0), emission=(40, 40, 40), id=14)
    return {"seed": 0, "bounces": 4, "hide_lights": False,
            "camera": {"position": [0.0, 1.5, 2.9], "lookat": [0.0, 1.2, 0.0], "fov": 65.0, "near": 0.01, "far": 100.0},
            "materials": materials, "geometry": geometry,
            "lights": [{"type": "sphere", "material": "light", "position": [0.5, 2.5, 0.5], "radius": 0.2}]}


def archviz_large(resolution: int = 64) -> dict:
    """The ArchViz example room with three finely tessellated teapots (Bezier patches at
    ``resolution``: about 3 x 260k triangles at 64) on the floor and the table."""
    from cnsr.assets.teapot import teapot_mesh

    data, _, _ = read_scene(str(ROOT / "examples" / "archviz.json"))
    data = dict(data, materials=dict(data["materials"]), geometry=list(data["geometry"]))
    m = teapot_mesh(resolution)
    for i, (x, y, z, deg, scale) in enumerate([(0.3, 0.0, 1.6, 20, 0.6), (2.0, 0.0, 2.2, 140, 0.5), (1.2, 0.75, 0.8, 60, 0.25)]):
        t = rot_y(deg, x, z, y)
        for r in range(3):
            t[r] = [v * scale for v in t[r]]
        data["materials"][f"dense{i}"] = _mat([(0.8, 0.7, 0.5), (0.3, 0.5, 0.7), (0.9, 0.9, 0.9)][i], [0.6, 1.0, 0.2][i], id=40 + i)
        data["geometry"].append({"type": "mesh", "material": f"dense{i}", "vertices": m.vertices, "faces": m.faces,
                                 "normals": m.normals, "transform": t})
    return data


# --------------------------------------------------------------------------------- Mitsuba
def load_mitsuba(variants=("llvm_ad_rgb", "scalar_rgb")):
    try:
        import drjit as dr
        import mitsuba as mi
    except ImportError:
        return None, None, None
    for variant in variants:
        if variant not in mi.variants():
            continue
        try:
            mi.set_variant(variant)
            mi.render(mi.load_dict({"type": "scene", "s": {"type": "sphere"}, "integrator": {"type": "path"},
                                    "sensor": {"type": "perspective", "film": {"type": "hdrfilm", "width": 4, "height": 4}}}), spp=1)
            return mi, dr, variant
        except Exception:  # e.g. libLLVM missing
            continue
    return None, None, None


def mitsuba_sensor(mi, cam: dict, size: int, spp: int) -> dict:
    T = mi.ScalarTransform4f
    return {"type": "perspective", "fov": cam.get("fov", 75.0), "fov_axis": "y",
            "near_clip": cam.get("near", 0.01), "far_clip": cam.get("far", 100.0),
            "to_world": T().look_at(origin=cam["position"], target=cam["lookat"], up=[0, 1, 0]),
            "film": {"type": "hdrfilm", "width": size, "height": size, "rfilter": {"type": "box"}},
            "sampler": {"type": "independent", "sample_count": spp}}


def mitsuba_scene(mi, data: dict, base_dir, size: int, spp: int):
    """The same scene for Mitsuba: world-space shapes from our loader's own geometry rules."""
    from cnsr import assets
    from cnsr.render.scene import _resolve_file

    T = mi.ScalarTransform4f
    cam = data["camera"]
    d = {"type": "scene",
         "integrator": {"type": "path", "max_depth": int(data.get("bounces", 4)) + 1, "rr_depth": 10000,
                        "hide_emitters": bool(data.get("hide_lights", False))},
         "sensor": mitsuba_sensor(mi, cam, size, spp)}

    def reflectance(m):
        """The material colour, times max(r, g, b) of its texture (bilinear, repeated) as ours."""
        color = np.asarray(m.get("color", [0.8] * 3), np.float32)
        tname = m.get("texture") or ""
        if not tname:
            return {"type": "rgb", "value": color.tolist()}
        if tname not in textures:
            path = _resolve_file(tname, base_dir)
            img = assets.load_texture(str(path)) if path else assets.get_texture(tname)
            textures[tname] = np.asarray(img, np.float32)[..., :3].max(axis=2)
        freq = m.get("texture_frequency", [1.0, 1.0])
        data = np.ascontiguousarray(textures[tname][..., None] * color[None, None, :])
        return {"type": "bitmap", "bitmap": mi.Bitmap(data), "raw": True, "filter_type": "bilinear",
                "wrap_mode": "repeat", "to_uv": mi.ScalarTransform4f().scale([float(freq[0]), float(freq[1]), 1.0])}

    textures = {}

    def bsdf(m):
        r = max(float(m.get("roughness", 1.0)), 0.05)
        diffuse = {"type": "diffuse", "reflectance": reflectance(m)}
        s = min(1.0, max(0.0, 1 - (r - 0.05) / 0.95))
        if s <= 0:
            return diffuse
        ior = float(m.get("ior", 15.0))
        glossy = {"type": "roughconductor", "distribution": "ggx", "alpha": r * r,
                  "eta": {"type": "rgb", "value": [ior] * 3}, "k": {"type": "rgb", "value": [0.0] * 3}}
        return {"type": "blendbsdf", "weight": s, "bsdf_0": diffuse, "bsdf_1": glossy}

    for i, g in enumerate(list(data.get("geometry", [])) + list(data.get("lights", []))):
        if not g.get("visible", True):
            continue
        m = data["materials"][g["material"]]
        M = np.asarray(g.get("transform", np.eye(4)), float)
        emission = np.asarray(m.get("emission", [0, 0, 0]), float)
        if g["type"] == "sphere":
            c = np.asarray(g.get("position", [0, 0, 0]), float) @ M[:3, :3] + M[3, :3]
            r = float(g["radius"]) * abs(np.linalg.det(M[:3, :3])) ** (1 / 3)
            shape = {"type": "sphere", "center": c.tolist(), "radius": r, "bsdf": bsdf(m)}
            area = 4 * math.pi * r * r
        elif g["type"] == "grid":
            half = float(np.abs(g["size"]).max()) if g in data.get("lights", []) else None
            c, e1, e2, n = grid_quad(np.asarray(g["position"], float), np.asarray(g["normal"], float),
                                     np.asarray(g["size"], float), M, half)
            W = np.eye(4)
            W[:3, 0], W[:3, 1], W[:3, 2], W[:3, 3] = e1 / 2, e2 / 2, n, c + e1 / 2 + e2 / 2
            shape = {"type": "rectangle", "to_world": T(W.tolist()), "bsdf": bsdf(m)}
            area = float(np.linalg.norm(np.cross(e1, e2)))
        else:
            if g["type"] == "mesh":  # inline arrays
                mesh = assets.Mesh(np.asarray(g["vertices"], float), np.asarray(g["faces"], np.int64),
                                   None if g.get("normals") is None else np.asarray(g["normals"], float),
                                   None if g.get("uvs") is None else np.asarray(g["uvs"], float))
            else:
                path = _resolve_file(g["filename"], base_dir)
                mesh = assets.load_obj(str(path)) if path else assets.get_mesh(g["filename"])
            v = mesh.vertices.astype(np.float64) @ M[:3, :3] + M[3, :3]
            faces = mesh.faces if np.linalg.det(M[:3, :3]) > 0 else mesh.faces[:, [0, 2, 1]]
            mm = mi.Mesh(f"mesh{i}", len(v), len(faces), has_vertex_normals=mesh.normals is not None,
                         has_vertex_texcoords=mesh.uvs is not None)
            p = mi.traverse(mm)
            p["vertex_positions"] = v.astype(np.float32).ravel()
            p["faces"] = faces.astype(np.uint32).ravel()
            if mesh.normals is not None:
                nrm = mesh.normals @ np.linalg.inv(M[:3, :3]).T
                p["vertex_normals"] = (nrm / np.linalg.norm(nrm, axis=1, keepdims=True)).astype(np.float32).ravel()
            if mesh.uvs is not None:
                p["vertex_texcoords"] = mesh.uvs.astype(np.float32).ravel()
            p.update()
            mm.set_bsdf(mi.load_dict(bsdf(m)))  # (emissive meshes are not lights for our NEE: none here)
            d[f"shape{i}"] = mm
            continue
        if emission.any():
            shape["emitter"] = {"type": "area", "radiance": {"type": "rgb", "value": (emission / area).tolist()}}
        d[f"shape{i}"] = shape
    return mi.load_dict(d)


# --------------------------------------------------------------------------------- timing
def timed(fn):
    """Wall-clock and process CPU seconds (all threads) of one call."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def load_renderer_module(path: str):
    """Another build of cnsr._renderer (benchmarks/build_renderer_baseline.sh), loaded beside ours."""
    if not Path(path).is_file():
        raise SystemExit(f"--baseline_module: no such file: {path}")
    spec = importlib.util.spec_from_file_location("_renderer", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ImportError as e:
        raise SystemExit(f"--baseline_module {path}: cannot load it beside cnsr._renderer ({e}); "
                         "build it with benchmarks/build_renderer_baseline.sh") from None
    return mod


@contextlib.contextmanager
def renderer_module(mod):
    """Makes cnsr.render use `mod` as its C++ extension inside the block (None: ours)."""
    if mod is None:
        yield
        return
    old = cnsr._renderer
    cnsr._renderer = mod
    sys.modules["cnsr._renderer"] = mod
    try:
        yield
    finally:
        cnsr._renderer = old
        sys.modules["cnsr._renderer"] = old


#: the built-in scenes: key -> (label, builder, extra (size, spp) rows beyond --sizes)
BUILTIN = {
    "glossy": ("built-in PrimitiveRoom-like (glossy)", primitive_room, ()),
    "cornell": ("built-in Cornell box (all diffuse, visible light)", cornell_room, ()),
    "heldout_diffuse": ("held-out room: diffuse mesh walls, diffuse sphere, visible sphere light",
                        lambda: heldout_room("diffuse"), ((128, 1024),)),
    "heldout_glossy": ("held-out room: glossy mesh walls, glossy teapot and sphere, two visible sphere lights",
                       lambda: heldout_room("glossy"), ()),
    "heldout_textured": ("held-out room: textured mesh walls, furniture, visible quad and sphere lights",
                         lambda: heldout_room("textured"), ()),
    "spheres": ("400 small spheres in a room, visible sphere light", sphere_field, ()),
    "archviz_large": ("ArchViz example with three dense teapots (about 790k triangles)", archviz_large, ()),
}


def scene_list(args) -> list:
    """(key, label, scene dict, base_dir, source for Renderer.load_scene, extra rows) of the
    selected scenes (built only when selected)."""
    if args.scene_file:
        data, name, base = read_scene(args.scene_file)
        return [(Path(args.scene_file).stem, name, data, base, args.scene_file, ())]
    known = list(BUILTIN) + [f.stem for f in sorted((ROOT / "examples").glob("*.json"))]
    keep = [k.strip() for k in args.scenes.split(",") if k.strip()] if args.scenes else known
    unknown = sorted(set(keep) - set(known))
    if unknown:
        raise SystemExit(f"--scenes: unknown scene(s) {', '.join(unknown)}; known: {', '.join(known)}")
    out = []
    for key in known:
        if key not in keep:
            continue
        if key in BUILTIN:
            label, build, extra = BUILTIN[key]
            data = build()
            out.append((key, label, data, None, data, () if args.no_extra else extra))
        else:
            f = ROOT / "examples" / f"{key}.json"
            data, name, base = read_scene(str(f))
            out.append((key, f"examples/{f.name}", data, base, str(f), ()))
    return out


def stats(xs):
    return min(xs), statistics.median(xs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default=None, help="comma-separated scene keys (default: all; see the list above)")
    ap.add_argument("--scene_file", default=None, help="benchmark this scene JSON instead")
    ap.add_argument("--sizes", default="64,256", help="image sizes (default 64,256)")
    ap.add_argument("--spp", type=int, default=64, help="samples per pixel at 64 px and below (default 64)")
    ap.add_argument("--spp_large", type=int, default=16, help="samples per pixel above 64 px (default 16)")
    ap.add_argument("--no_extra", action="store_true",
                    help="skip the extra rows of some scenes (heldout_diffuse at 128 px, 1024 spp)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no_all16", action="store_true", help="time beauty-only renders only")
    ap.add_argument("--baseline_module", default=None, help="another build of the renderer to compare against")
    ap.add_argument("--no_mitsuba", action="store_true")
    ap.add_argument("--mitsuba_variant", default=None, help="force a Mitsuba variant (default: llvm_ad_rgb, else scalar_rgb)")
    ap.add_argument("--dataset", default="room", help="scene family of the dataset-throughput part (default room)")
    ap.add_argument("--dataset_sizes", default="32,64", help="its image sizes (default 32,64)")
    ap.add_argument("--dataset_spp", type=int, default=16, help="its samples per pixel (default 16, the experiments' data)")
    ap.add_argument("--dataset_scenes", type=int, default=16, help="scenes per timed round (default 16, 4 views each)")
    ap.add_argument("--no_dataset", action="store_true", help="skip the dataset-throughput part")
    ap.add_argument("--only_dataset", action="store_true", help="only the dataset-throughput part")
    args = ap.parse_args(argv)
    try:
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
        dsizes = [int(x) for x in args.dataset_sizes.split(",") if x.strip()]
    except ValueError:
        raise SystemExit("--sizes / --dataset_sizes: expected comma-separated integers") from None
    if not sizes or min(sizes) <= 0 or (dsizes and min(dsizes) <= 0):
        raise SystemExit("--sizes: sizes must be positive")

    scenes = [] if args.only_dataset else scene_list(args)
    base_mod = load_renderer_module(args.baseline_module) if args.baseline_module else None
    mi = dr = variant = None
    if not args.no_mitsuba:
        mi, dr, variant = load_mitsuba((args.mitsuba_variant,) if args.mitsuba_variant else ("llvm_ad_rgb", "scalar_rgb"))
        if mi is not None:
            dr.set_thread_count(args.threads)
    isa = ours_renderer.lanes_isa() if hasattr(ours_renderer, "lanes_isa") else "?"
    isa += f", {getattr(ours_renderer, 'packet_width', 8)} paths per packet"
    print(f"renderer benchmark: {len(scenes)} scene(s) x sizes {sizes}, {args.spp} spp at <= 64 px, "
          f"{args.spp_large} spp above, {args.threads} threads, {args.repeats} interleaved repeats; shading lanes: {isa}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average {load_average()}")
    if base_mod is not None:
        print(f"baseline: {args.baseline_module}")
    print(f"Mitsuba: {mi.__version__ + ' ' + variant if mi is not None else 'not available (pip install mitsuba)'}")

    rows = []
    for key, label, data, base_dir, source, extra in scenes:
        settings = [(S, args.spp if S <= 64 else args.spp_large) for S in sizes] + list(extra)
        for S, spp in settings:
            rows.append(time_scene(args, key, label, data, base_dir, source, S, spp, base_mod, mi))
            report(rows[-1])
    if rows:
        summary(rows, variant, sizes)
    if not args.no_dataset and dsizes:
        dataset_throughput(args, dsizes, base_mod, mi, dr)
    return 0


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def time_scene(args, key, label, data, base_dir, source, S, spp, base_mod, mi) -> dict:
    """One row: every contender rendering the scene at S px, spp, timed interleaved."""
    contenders = {}
    ray_stats = {}
    for tag, mod in (("", None), ("base ", base_mod)) if base_mod is not None else (("", None),):
        with renderer_module(mod):
            r = Renderer(threads=args.threads)
            r.load_scene(source)
            r.render(size=16, spp=1, passes=["beauty"])  # warm-up

        def ours(r=r, passes=None, key=None, mod=mod):
            def run():
                with renderer_module(mod):
                    r.render(size=S, spp=spp, seed=1, passes=passes)
                ray_stats[key] = sum(r.last_stats.values())
            return run
        contenders[tag + "beauty"] = ours(passes=["beauty"], key=tag + "beauty")
        if not args.no_all16:
            contenders[tag + "all16"] = ours(passes=None, key=tag + "all16")
    if mi is not None:
        mscene = mitsuba_scene(mi, data, base_dir, S, spp)

        def mitsuba(mscene=mscene, spp=spp):
            np.asarray(mi.render(mscene, spp=spp, seed=1))  # forces evaluation
        mitsuba()  # JIT compilation happens here
        contenders["mitsuba"] = mitsuba
    wall = {k: [] for k in contenders}
    cpu = {k: [] for k in contenders}
    for _ in range(args.repeats):
        for k, fn in contenders.items():
            w, c = timed(fn)
            wall[k].append(w)
            cpu[k].append(c)
    row = {"scene": key, "label": label, "size": S, "spp": spp, "rays": ray_stats["beauty"],
           "rays_per_path": ray_stats["beauty"] / (S * S * spp), "load": os.getloadavg()[0]}
    for k in contenders:
        row[k] = {"wall": stats(wall[k]), "cpu": stats(cpu[k])}
    return row


# --------------------------------------------------------------------------------- datasets
def dataset_throughput(args, sizes, base_mod, mi, dr) -> None:
    """Scenes per second as dataset generation renders them: each scene of a dataset batch
    loaded once and rendered from 4 views (one thread, as each of generate-dataset's worker
    processes). Ours with all 16 passes (what dataset files hold) and beauty only, Mitsuba
    beauty (load_dict of the scene, a sensor per view); rounds of --dataset_scenes scenes,
    the contenders interleaved scene by scene."""
    from cnsr.data.batches import make_batch

    views = 4
    batches = []
    i = 0
    while sum(len(b) for b in batches) < args.dataset_scenes:
        scenes, _ = make_batch(args.dataset, 11, "train", i, 8, views, True)
        batches.append(scenes)
        i += 1
    scenes = [v for b in batches for v in b][:args.dataset_scenes]
    if mi is not None:
        dr.set_thread_count(1)
    print(f"\ndataset throughput ({args.dataset}: {len(scenes)} scenes x {views} views per round, "
          f"{args.dataset_spp} spp, one thread; {args.repeats} rounds; load average {load_average()}):")
    table = []
    for S in sizes:
        contenders = {}
        mods = (("", None), ("base ", base_mod)) if base_mod is not None else (("", None),)
        for tag, mod in mods:
            for passes, name in ((None, "all16"), (["beauty"], "beauty")):
                def ours(scene_views, mod=mod, passes=passes):
                    with renderer_module(mod):
                        r = Renderer(threads=1)
                        for v, desc in enumerate(scene_views):
                            if v == 0:
                                r.load_scene(desc)
                            cam = desc["camera"]
                            r.set_camera(cam["position"], cam["lookat"], fov=cam.get("fov"))
                            r.render(size=S, spp=args.dataset_spp, seed=v, passes=passes)
                contenders[tag + name] = ours
        if mi is not None:
            def mitsuba(scene_views):
                desc = scene_views[0]
                mscene = mitsuba_scene(mi, desc, None, S, args.dataset_spp)
                for v, d in enumerate(scene_views):
                    sensor = mscene.sensors()[0] if v == 0 else mi.load_dict(
                        mitsuba_sensor(mi, d["camera"], S, args.dataset_spp))
                    np.asarray(mi.render(mscene, sensor=sensor, spp=args.dataset_spp, seed=v))
            for sv in scenes[:2]:
                mitsuba(sv)  # JIT warm-up
            contenders["mitsuba"] = mitsuba
        for fn in contenders.values():
            fn(scenes[0])  # warm-up (meshes, textures)
        totals = {k: [] for k in contenders}
        for _ in range(args.repeats):
            t = {k: 0.0 for k in contenders}
            for sv in scenes:
                for k, fn in contenders.items():
                    t0 = time.perf_counter()
                    fn(sv)
                    t[k] += time.perf_counter() - t0
            for k in contenders:
                totals[k].append(len(scenes) / t[k])
        row = {k: (max(v), statistics.median(v)) for k, v in totals.items()}
        row["size"] = S
        table.append(row)
        print(f"  {S}x{S}: " + ", ".join(f"{k} {b:.1f} ({m:.1f}) scenes/s" for k, (b, m) in
                                        ((k, row[k]) for k in contenders)))
    print(f"\n| dataset ({args.dataset}, {args.dataset_spp} spp, 4 views, 1 thread) | px | ours, all 16 passes | "
          f"ours, beauty | Mitsuba, beauty | Mitsuba / ours (beauty) | before, all 16 | after / before (all 16) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in table:
        def cell(k):
            return f"{row[k][0]:.1f} ({row[k][1]:.1f})" if k in row else "-"

        def ratio(a, b):
            return f"{row[a][0] / row[b][0]:.2f} ({row[a][1] / row[b][1]:.2f})" if a in row and b in row else "-"
        print(f"| scenes/s, best (median) | {row['size']} | {cell('all16')} | {cell('beauty')} | {cell('mitsuba')} | "
              f"{ratio('beauty', 'mitsuba')} | {cell('base all16')} | {ratio('all16', 'base all16')} |")


def _ratio(row, num, den, kind="wall"):
    if num not in row or den not in row:
        return None
    (nb, nm), (db, dm) = row[num][kind], row[den][kind]
    return nb / db, nm / dm


def report(row) -> None:
    S, rays = row["size"], row["rays"]
    print(f"\n{row['label']}, {S}x{S}, {row['spp']} spp: {row['rays_per_path']:.2f} rays/path (beauty)")
    names = {"beauty": "ours, beauty only", "all16": "ours, all 16 passes", "base beauty": "baseline, beauty only",
             "base all16": "baseline, all 16 passes", "mitsuba": "Mitsuba 3"}
    for k, label in names.items():
        if k not in row:
            continue
        (wb, wm), (cb, cm) = row[k]["wall"], row[k]["cpu"]
        mr = f"{rays / wb / 1e6:7.2f} Mrays/s" if k in ("beauty", "base beauty", "mitsuba") else " " * 15
        print(f"  {label:<24} best {wb * 1e3:8.1f} ms  median {wm * 1e3:8.1f} ms  {mr}  CPU best {cb * 1e3:7.1f} ms  median {cm * 1e3:7.1f} ms")
    for num, den, label in (("all16", "beauty", "all 16 passes / beauty only"),
                            ("mitsuba", "beauty", "Mitsuba / ours (beauty)"),
                            ("base beauty", "beauty", "baseline / ours (beauty)"),
                            ("base all16", "all16", "baseline / ours (all 16)")):
        w, c = _ratio(row, num, den), _ratio(row, num, den, "cpu")
        if w:
            print(f"  {label:<30} wall best {w[0]:.2f} median {w[1]:.2f}   CPU time best {c[0]:.2f} median {c[1]:.2f}")


def summary(rows, variant, sizes) -> None:
    """One Markdown table of the run (README format): ratios as best (median); then the
    geometric means of Mitsuba / ours over the rows at --sizes."""
    def cell(r, num, den, kind):
        x = _ratio(r, num, den, kind)
        return f"{x[0]:.2f} ({x[1]:.2f})" if x else "-"
    print(f"\n| scene | px | spp | rays/path | ours beauty, ms | Mrays/s | all 16 / beauty, wall | same, CPU | "
          f"Mitsuba {variant or '-'} / ours, wall | same, CPU | before / after, wall | same, CPU | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        wb, wm = r["beauty"]["wall"]
        print(f"| {r['scene']} | {r['size']} | {r['spp']} | {r['rays_per_path']:.2f} | {wb * 1e3:.0f} ({wm * 1e3:.0f}) | "
              f"{r['rays'] / wb / 1e6:.1f} | {cell(r, 'all16', 'beauty', 'wall')} | {cell(r, 'all16', 'beauty', 'cpu')} | "
              f"{cell(r, 'mitsuba', 'beauty', 'wall')} | {cell(r, 'mitsuba', 'beauty', 'cpu')} | "
              f"{cell(r, 'base beauty', 'beauty', 'wall')} | {cell(r, 'base beauty', 'beauty', 'cpu')} | {r['load']:.1f} |")
    main_rows = [r for r in rows if r["size"] in sizes]
    for num, den, what in (("mitsuba", "beauty", "Mitsuba / ours"), ("base beauty", "beauty", "before / after")):
        ratios = [(_ratio(r, num, den, "cpu"), _ratio(r, num, den, "wall")) for r in main_rows]
        if not ratios or any(c is None for c, _ in ratios):
            continue
        def gm(xs):
            return math.exp(sum(math.log(x) for x in xs) / len(xs))
        print(f"geometric mean of {what} over the {len(ratios)} rows at {sizes} px: CPU time best {gm([c[0] for c, _ in ratios]):.2f} "
              f"median {gm([c[1] for c, _ in ratios]):.2f}; wall best {gm([w[0] for _, w in ratios]):.2f} "
              f"median {gm([w[1] for _, w in ratios]):.2f}; lowest (CPU, best) {min(c[0] for c, _ in ratios):.2f}")


if __name__ == "__main__":
    sys.exit(main())
