#!/usr/bin/env python3
"""Renderer speed on a PrimitiveRoom-like scene, against Mitsuba 3 in the same run.

The scene (built here, or ``--scene_file``) is a 6 x 3 x 6 room with a sphere, cube,
dodecahedron, cylinder and Utah teapot (diffuse, glossy and mirror materials), one sphere light
hidden from the camera and 4 bounces, like the paper's PrimitiveRoom. Timed, interleaved, at
``--size`` (64) and ``--spp`` (64) with ``--threads`` (2):

1. ours, beauty only; 2. ours, all 16 passes; 3. Mitsuba 3 (``llvm_ad_rgb`` when LLVM loads,
else ``scalar_rgb``) with its ``path`` integrator at the same spp and path depth
(``max_depth = bounces + 1``, no Russian roulette, emitters hidden), the same geometry, lights
and an equivalent material mix. Kernels are warmed up (JIT) before timing; the best and median
of ``--repeats`` runs are reported with million rays per second (Mitsuba: our ray count for the
same paths), the process CPU time of each render (all threads; steadier than wall-clock time when
other jobs share the machine) and the ratios the project tracks:

    all 16 passes / beauty only      (target <= 1.5)
    Mitsuba time / our beauty time   (target >= 1: our throughput at least Mitsuba's)

    python benchmarks/render.py                   # about half a minute
    python benchmarks/render.py --scene_file examples/fewmaterialroom.json
"""
from __future__ import annotations

import argparse
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


def mitsuba_scene(mi, data: dict, base_dir, size: int, spp: int):
    """The same scene for Mitsuba: world-space shapes from our loader's own geometry rules."""
    from cnsr import assets
    from cnsr.render.scene import _resolve_file

    T = mi.ScalarTransform4f
    cam = data["camera"]
    d = {"type": "scene",
         "integrator": {"type": "path", "max_depth": int(data.get("bounces", 4)) + 1, "rr_depth": 10000,
                        "hide_emitters": bool(data.get("hide_lights", False))},
         "sensor": {"type": "perspective", "fov": cam.get("fov", 75.0), "fov_axis": "y",
                    "near_clip": cam.get("near", 0.01), "far_clip": cam.get("far", 100.0),
                    "to_world": T().look_at(origin=cam["position"], target=cam["lookat"], up=[0, 1, 0]),
                    "film": {"type": "hdrfilm", "width": size, "height": size, "rfilter": {"type": "box"}},
                    "sampler": {"type": "independent", "sample_count": spp}}}

    def bsdf(m):
        r = max(float(m.get("roughness", 1.0)), 0.05)
        diffuse = {"type": "diffuse", "reflectance": {"type": "rgb", "value": m.get("color", [0.8] * 3)}}
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
            path = _resolve_file(g["filename"], base_dir)
            mesh = assets.load_obj(str(path)) if path else assets.get_mesh(g["filename"])
            v = mesh.vertices.astype(np.float64) @ M[:3, :3] + M[3, :3]
            mm = mi.Mesh(f"mesh{i}", len(v), len(mesh.faces), has_vertex_normals=mesh.normals is not None)
            p = mi.traverse(mm)
            p["vertex_positions"] = v.astype(np.float32).ravel()
            p["faces"] = mesh.faces.astype(np.uint32).ravel()
            if mesh.normals is not None:
                nrm = mesh.normals @ np.linalg.inv(M[:3, :3]).T
                p["vertex_normals"] = (nrm / np.linalg.norm(nrm, axis=1, keepdims=True)).astype(np.float32).ravel()
            p.update()
            d[f"shape{i}"] = mm
            continue
        if emission.any():
            shape["emitter"] = {"type": "area", "radiance": {"type": "rgb", "value": (emission / area).tolist()}}
        d[f"shape{i}"] = shape
    return mi.load_dict(d)


# --------------------------------------------------------------------------------- timing
def timed(fn, repeats: int):
    """Wall-clock and process CPU seconds (all threads) of each of `repeats` calls."""
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return times, cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scene_file", default=None, help="scene JSON (default: the built-in PrimitiveRoom-like scene)")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--spp", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no_mitsuba", action="store_true")
    ap.add_argument("--mitsuba_variant", default=None, help="force a Mitsuba variant (default: llvm_ad_rgb, else scalar_rgb)")
    args = ap.parse_args(argv)

    data, name, base_dir = read_scene(args.scene_file) if args.scene_file else (primitive_room(), "built-in PrimitiveRoom-like", None)
    r = Renderer(threads=args.threads)
    r.load_scene(args.scene_file if args.scene_file else data)
    S, spp = args.size, args.spp
    print(f"renderer benchmark: {name}, {S}x{S}, {spp} spp, {r.scene.bounces} bounces, {args.threads} threads")
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}")

    r.render(size=16, spp=1, passes=["beauty"])  # warm-up
    stats = {}

    def ours(passes, key):
        def run():
            r.render(size=S, spp=spp, seed=1, passes=passes)
            stats[key] = dict(r.last_stats)
        return run

    mi = dr = variant = None
    if not args.no_mitsuba:
        mi, dr, variant = load_mitsuba((args.mitsuba_variant,) if args.mitsuba_variant else ("llvm_ad_rgb", "scalar_rgb"))
    runs = {"beauty": ours(["beauty"], "beauty"), "all16": ours(None, "all16")}
    if mi is not None:
        dr.set_thread_count(args.threads)
        mscene = mitsuba_scene(mi, data, base_dir, S, spp)

        def mitsuba():
            img = mi.render(mscene, spp=spp, seed=1)
            np.asarray(img)  # force evaluation
        mitsuba()  # JIT compilation happens here
        runs["mitsuba"] = mitsuba
    times = {k: [] for k in runs}
    cpu = {k: [] for k in runs}
    for _ in range(args.repeats):  # interleaved, so that load changes hit every contender alike
        for k, fn in runs.items():
            w, c = timed(fn, 1)
            times[k] += w
            cpu[k] += c

    def report(label, key, rays):
        best, med = min(times[key]), statistics.median(times[key])
        cbest, cmed = min(cpu[key]), statistics.median(cpu[key])
        print(f"  {label:<34} best {best * 1e3:8.1f} ms   median {med * 1e3:8.1f} ms   {rays / best / 1e6:7.2f} Mrays/s"
              f"   (CPU time, all threads: best {cbest * 1e3:.0f} ms, median {cmed * 1e3:.0f} ms)")
        return best, med, cbest, cmed

    rays_b = sum(stats["beauty"].values())
    rays_a = sum(stats["all16"].values())
    print(f"  rays per render: beauty {rays_b} ({rays_b / (S * S * spp):.2f}/path), all 16 passes {rays_a}")
    b = report("ours, beauty only", "beauty", rays_b)
    a = report("ours, all 16 passes", "all16", rays_a)
    print(f"  ratio all 16 passes / beauty only:   best {a[0] / b[0]:.2f}   median {a[1] / b[1]:.2f}   (target <= 1.5)")
    if "mitsuba" in times:
        m = report(f"Mitsuba 3 {mi.__version__} {variant}", "mitsuba", rays_b)
        print(f"  ratio Mitsuba time / our beauty time: best {m[0] / b[0]:.2f}   median {m[1] / b[1]:.2f}   "
              f"(target >= 1)")
        print(f"  same ratio in CPU time:               best {m[2] / b[2]:.2f}   median {m[3] / b[3]:.2f}   "
              f"(less sensitive to other jobs on the machine; counts any busy-waiting of worker threads)")
    else:
        print("  Mitsuba 3 not available: pip install mitsuba")
    return 0


if __name__ == "__main__":
    sys.exit(main())
