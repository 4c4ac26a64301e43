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


def scene_list(args) -> list:
    """(key, label, scene dict, base_dir, source for Renderer.load_scene) of the selected scenes."""
    if args.scene_file:
        data, name, base = read_scene(args.scene_file)
        return [(Path(args.scene_file).stem, name, data, base, args.scene_file)]
    out = [("glossy", "built-in PrimitiveRoom-like (glossy)", primitive_room(), None, None),
           ("cornell", "built-in Cornell box (all diffuse, visible light)", cornell_room(), None, None)]
    for f in sorted((ROOT / "examples").glob("*.json")):
        data, name, base = read_scene(str(f))
        out.append((f.stem, f"examples/{f.name}", data, base, str(f)))
    if args.scenes:
        keep = [k.strip() for k in args.scenes.split(",") if k.strip()]
        unknown = sorted(set(keep) - {k for k, *_ in out})
        if unknown:
            raise SystemExit(f"--scenes: unknown scene(s) {', '.join(unknown)}; known: {', '.join(k for k, *_ in out)}")
        out = [o for o in out if o[0] in keep]
    return [(k, label, data, base, src if src else data) for k, label, data, base, src in out]


def stats(xs):
    return min(xs), statistics.median(xs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default=None, help="comma-separated scene keys (default: all; see the list above)")
    ap.add_argument("--scene_file", default=None, help="benchmark this scene JSON instead")
    ap.add_argument("--sizes", default="64,256", help="image sizes (default 64,256)")
    ap.add_argument("--spp", type=int, default=64, help="samples per pixel at 64 px and below (default 64)")
    ap.add_argument("--spp_large", type=int, default=16, help="samples per pixel above 64 px (default 16)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no_all16", action="store_true", help="time beauty-only renders only")
    ap.add_argument("--baseline_module", default=None, help="another build of the renderer to compare against")
    ap.add_argument("--no_mitsuba", action="store_true")
    ap.add_argument("--mitsuba_variant", default=None, help="force a Mitsuba variant (default: llvm_ad_rgb, else scalar_rgb)")
    args = ap.parse_args(argv)
    try:
        sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--sizes: expected comma-separated integers, got {args.sizes!r}") from None
    if not sizes or min(sizes) <= 0:
        raise SystemExit("--sizes: sizes must be positive")

    scenes = scene_list(args)
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
    print(f"machine: {cpu_name()}, {os.cpu_count()} logical CPUs, load average {os.getloadavg()[0]:.1f}")
    if base_mod is not None:
        print(f"baseline: {args.baseline_module}")
    print(f"Mitsuba: {mi.__version__ + ' ' + variant if mi is not None else 'not available (pip install mitsuba)'}")

    rows = []
    for key, label, data, base_dir, source in scenes:
        for S in sizes:
            spp = args.spp if S <= 64 else args.spp_large
            contenders = {}  # name -> (callable, module)
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
                   "rays_per_path": ray_stats["beauty"] / (S * S * spp)}
            for k in contenders:
                row[k] = {"wall": stats(wall[k]), "cpu": stats(cpu[k])}
            rows.append(row)
            report(row)
    summary(rows, variant)
    return 0


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


def summary(rows, variant) -> None:
    """One Markdown table of the run (README format): ratios as best (median)."""
    def cell(r, num, den, kind):
        x = _ratio(r, num, den, kind)
        return f"{x[0]:.2f} ({x[1]:.2f})" if x else "-"
    print(f"\n| scene | px | spp | rays/path | ours beauty, ms | Mrays/s | all 16 / beauty, wall | same, CPU | "
          f"Mitsuba {variant or '-'} / ours, wall | same, CPU | before / after, wall | same, CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        wb, wm = r["beauty"]["wall"]
        print(f"| {r['scene']} | {r['size']} | {r['spp']} | {r['rays_per_path']:.2f} | {wb * 1e3:.0f} ({wm * 1e3:.0f}) | "
              f"{r['rays'] / wb / 1e6:.1f} | {cell(r, 'all16', 'beauty', 'wall')} | {cell(r, 'all16', 'beauty', 'cpu')} | "
              f"{cell(r, 'mitsuba', 'beauty', 'wall')} | {cell(r, 'mitsuba', 'beauty', 'cpu')} | "
              f"{cell(r, 'base beauty', 'beauty', 'wall')} | {cell(r, 'base beauty', 'beauty', 'cpu')} |")


if __name__ == "__main__":
    sys.exit(main())
