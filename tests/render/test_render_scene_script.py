"""code/render-scene.py end to end: EXR channels, passes, previews, errors."""
import json
import subprocess
import sys

import numpy as np

from render_helpers import box_room


def run(repo_root, *args):
    return subprocess.run([sys.executable, str(repo_root / "code" / "render-scene.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_render_scene_writes_named_channels(repo_root, tmp_path):
    from cnsr.io.exr import read_exr, read_exr_attrs
    from cnsr.passes import PASS_NAMES, exr_channel_names

    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps(box_room()))
    out = tmp_path / "out" / "img.exr"
    p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 2, "--threads", 2, "--out", out, "--png")
    assert p.returncode == 0, p.stderr
    assert "rendered" in p.stdout and " s " in p.stdout
    import OpenEXR

    with OpenEXR.File(str(out), separate_channels=True) as f:
        names = set(f.channels())
    # every pass by name, and the beauty once more as the default layer that viewers open
    assert names == {c for n in PASS_NAMES for c in exr_channel_names(n)} | {"R", "G", "B"}
    data = read_exr(out)
    assert set(data) == set(PASS_NAMES)                        # the default layer is not a pass
    assert data["beauty"].shape == (8, 8, 3) and data["depth"].shape == (8, 8, 1)
    assert "cnsr.pose" in read_exr_attrs(out)
    assert (tmp_path / "out" / "img.beauty.png").is_file() and (tmp_path / "out" / "img.depth.png").is_file()

    half = tmp_path / "half.exr"
    p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--passes", "beauty,depth", "--half",
            "--no-nee", "--seed", 3, "--out", half)
    assert p.returncode == 0, p.stderr
    d = read_exr(half)
    assert set(d) == {"beauty", "depth"} and np.isfinite(d["beauty"]).all()


def test_render_scene_reports_bad_input(repo_root, tmp_path):
    scene = box_room()
    scene["geometry"][0]["type"] = "torus"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(scene))
    p = run(repo_root, "--scene_file", f, "--image_size", 8, "--spp", 1, "--out", tmp_path / "x.exr")
    assert p.returncode == 2 and "torus" in p.stderr
    p = run(repo_root, "--scene_file", tmp_path / "none.json", "--image_size", 8, "--spp", 1, "--out", tmp_path / "x.exr")
    assert p.returncode == 2 and "none.json" in p.stderr
    f.write_text(json.dumps(box_room()))
    p = run(repo_root, "--scene_file", f, "--image_size", 8, "--spp", 1, "--passes", "beauty,shine", "--out", tmp_path / "x.exr")
    assert p.returncode == 2 and "shine" in p.stderr


def test_reference_scene_with_textured_walls_and_a_grid_light(repo_root, reference_scenes, tmp_path):
    """A reference scene file (spheres, grids, OBJ files) plus textured walls (an image file and
    a registered wallpaper) and a square grid light renders all 16 passes through the script."""
    from cnsr.io.exr import read_exr

    PIL = __import__("pytest").importorskip("PIL.Image")
    scene = json.loads((reference_scenes / "fewmaterialroom_0.json").read_text())
    for g in scene["geometry"]:  # OBJ files by absolute path: the scene now lives elsewhere
        if g["type"] == "file":
            g["filename"] = str(reference_scenes / g["filename"])
    stripes = (np.indices((32, 32)).sum(axis=0) % 8 < 4)[..., None] * np.array([200, 120, 40])
    PIL.fromarray(stripes.astype(np.uint8)).save(tmp_path / "stripes.png")
    scene["materials"]["back_wall"].update(texture="stripes.png", texture_frequency=[3, 2])
    scene["materials"]["left_wall"].update(texture="wallpaper_stripes", texture_frequency=[2, 1])
    scene["materials"]["lamp"] = dict(scene["materials"]["light0"], emission=[6, 6, 6])
    scene["lights"].append({"type": "grid", "material": "lamp", "position": [0, 2.49, 0], "normal": [0, -1, 0],
                            "size": [0.3, 0, 0.3], "transform": np.eye(4).tolist()})
    kinds = {g["type"] for g in scene["geometry"]} | {g["type"] for g in scene["lights"]}
    assert kinds == {"grid", "sphere", "file"}
    f = tmp_path / "scene.json"
    f.write_text(json.dumps(scene))
    out = tmp_path / "room.exr"
    p = run(repo_root, "--scene_file", f, "--image_size", 16, "--spp", 4, "--out", out)
    assert p.returncode == 0, p.stderr
    data = read_exr(out)
    assert len(data) == 16
    assert all(np.isfinite(a).all() for a in data.values())
    assert data["beauty"].mean() > 0.01 and (data["depth"] > 0).all()


def test_exr_default_layer_is_the_beauty(repo_root, tmp_path):
    """tev, Blender and Mitsuba open an EXR's unnamed R, G, B layer: it is the beauty, bit for bit."""
    import OpenEXR
    from cnsr.io.exr import read_exr, read_exr_image

    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps(box_room()))
    out = tmp_path / "img.exr"
    p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 2, "--passes", "normal,beauty,depth", "--out", out)
    assert p.returncode == 0, p.stderr
    beauty = read_exr(out)["beauty"]
    assert beauty.max() > 0
    with OpenEXR.File(str(out)) as f:                          # grouped as a viewer sees the file
        rgb = np.asarray(f.channels()["RGB"].pixels)
    assert np.array_equal(rgb, beauty)
    assert np.array_equal(read_exr_image(out), beauty)


def test_out_extension_is_respected_or_refused(repo_root, tmp_path):
    from cnsr.io.exr import read_exr
    from cnsr.io.png import read_png
    from cnsr.io.preview import display
    from cnsr.io.png import to_uint8

    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps(box_room()))
    png = tmp_path / "e.png"
    p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 2, "--seed", 1, "--out", png)
    assert p.returncode == 0, p.stderr
    assert png.read_bytes().startswith(b"\x89PNG")               # a PNG, not EXR data under a .png name
    exr = tmp_path / "e.exr"
    assert run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 2, "--seed", 1, "--passes", "beauty",
               "--out", exr).returncode == 0
    assert np.array_equal(read_png(png), to_uint8(display("beauty", read_exr(exr)["beauty"])))
    p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--passes", "depth", "--out", tmp_path / "d.png")
    assert p.returncode == 0 and read_png(tmp_path / "d.png").shape == (8, 8, 3)
    # refused before rendering, with the reason
    for bad, words in ((tmp_path / "e.jpg", ".exr"), (tmp_path / "noext", ".png")):
        p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--out", bad)
        assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr
        assert not bad.exists()
    p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 1, "--passes", "beauty,normal",
            "--out", tmp_path / "two.png")
    assert p.returncode == 2 and "one pass" in p.stderr and "Traceback" not in p.stderr


def test_sheet_has_one_labelled_tile_per_pass(repo_root, tmp_path):
    """--sheet: every pass of the render, in order, shown by the display mapping (found
    exactly in the sheet), each under its own label."""
    from figure_helpers import find_tile

    from cnsr.io.exr import read_exr
    from cnsr.io.png import read_png
    from cnsr.io.preview import BACKGROUND, display
    from cnsr.passes import PASS_NAMES

    scene = tmp_path / "scene.json"
    scene.write_text(json.dumps(box_room()))
    out = tmp_path / "room.exr"
    p = run(repo_root, "--scene_file", scene, "--image_size", 8, "--spp", 2, "--out", out, "--sheet")
    assert p.returncode == 0, p.stderr
    sheet = read_png(tmp_path / "room.sheet.png")
    data = read_exr(out)
    assert set(data) == set(PASS_NAMES)                       # tiles in the renderer's pass order
    gap, cols = 4, 4
    tile = (sheet.shape[1] - (cols + 1) * gap) // cols
    assert tile % 8 == 0 and tile >= 128                       # upscaled by a whole factor, readable
    bg = int(round(BACKGROUND * 255))
    found, bands = [], []
    for i, name in enumerate(PASS_NAMES):
        x = gap + (i % cols) * (tile + gap)
        at = [(y, xx) for y, xx in find_tile(sheet, display(name, data[name]), tile) if xx == x]
        assert len(at) >= 1, f"{name}: tile not found"
        y = at[0][0]
        found.append(y)
        band = sheet[max(0, y - 24):y, x:x + tile].astype(np.int16)    # the label band above the tile
        assert (band.max(axis=-1) > 200).sum() > 20, f"{name}: no label above its tile"
        assert (band == bg).mean() > 0.5                       # text on the background, not image
        bands.append(band)
    rows = sorted(set(found))
    assert len(rows) == 4 and found == [rows[i // cols] for i in range(len(PASS_NAMES))]
    # the labels differ (each names its pass)
    assert all(not np.array_equal(bands[i], bands[j]) for i in range(len(bands)) for j in range(i))
