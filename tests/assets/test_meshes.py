"""Built-in meshes (placed like the reference OBJs), the registry, and the OBJ loader."""
import numpy as np
import pytest

from cnsr import assets
from cnsr.assets import Mesh, get_mesh, load_obj, register_mesh

#: Bounds of the reference system's OBJ files (measured), which the built-ins reproduce.
REFERENCE_BOUNDS = {
    "teapot2": ([-0.9959, -0.0079, -0.6105], [0.9681, 0.9079, 0.6105]),
    "cube_bigger": ([-0.5, 0.0, -0.5], [0.5, 1.0, 0.5]),
    "dodecahedron": ([-0.4755, 0.0, -0.4045], [0.4755, 1.0, 0.4045]),
    "cylinder": ([-0.36, 0.0, -0.36], [0.36, 1.0, 0.36]),
}
OUR_NAMES = {"teapot2": "teapot", "cube_bigger": "cube", "dodecahedron": "dodecahedron", "cylinder": "cylinder"}


@pytest.mark.parametrize("ref", sorted(REFERENCE_BOUNDS))
def test_builtin_meshes_match_reference_bounds_and_face_outwards(ref):
    for name in (ref, OUR_NAMES[ref]):
        m = get_mesh(name)
        lo, hi = m.bounds
        np.testing.assert_allclose(lo, REFERENCE_BOUNDS[ref][0], atol=2e-3)
        np.testing.assert_allclose(hi, REFERENCE_BOUNDS[ref][1], atol=2e-3)
        v, f = m.vertices.astype(np.float64), m.faces
        fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        # counter-clockwise winding agrees with the vertex normals, which are unit length
        assert (np.einsum("ij,ij->i", fn, m.normals[f].mean(axis=1)) > 0).mean() > 0.99
        np.testing.assert_allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-4)
        # closed-ish solids: the signed volume is positive (outward orientation)
        vol = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
        assert vol > 0.1


def test_builtins_match_reference_obj_files(reference_scenes):
    for ref in REFERENCE_BOUNDS:
        obj = load_obj(reference_scenes / f"{ref}.obj")
        ours = get_mesh(ref)
        np.testing.assert_allclose(ours.bounds[0], obj.bounds[0], atol=2e-3)
        np.testing.assert_allclose(ours.bounds[1], obj.bounds[1], atol=2e-3)
        assert obj.normals is not None


def test_teapot_is_tessellated_from_32_patches():
    from cnsr.assets.teapot import control_points, patches

    assert control_points().shape == (306, 3)
    assert patches().shape == (32, 4, 4)
    assert len(get_mesh("teapot").faces) > 2000


def test_registry_keys_builders_and_errors():
    assert assets.asset_key("/abs/dir/teapot2.obj") == "teapot2"
    assert assets.asset_key("cube") == "cube"
    calls = []

    def build():
        calls.append(1)
        return Mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]])

    register_mesh("test_triangle", build)
    assert assets.has_mesh("dir/test_triangle.obj")
    get_mesh("test_triangle")
    get_mesh("test_triangle.obj")
    assert calls == [1]  # built once, then cached
    with pytest.raises(KeyError, match="no_such_mesh"):
        get_mesh("no_such_mesh")
    for name in ("teapot", "teapot2", "cube", "cube_bigger", "dodecahedron", "cylinder"):
        assert name in assets.mesh_names()


def test_obj_loader_triangulates_and_keeps_attributes(tmp_path):
    p = tmp_path / "quad.obj"
    p.write_text("# quad\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 1\n"
                 "f 1/1/1 2/2/1 3/3/1 4/4/1\nf -4/-4/-1 -2/-2/-1 -1/-1/-1\n")
    m = load_obj(p)
    assert m.faces.shape == (3, 3)
    assert m.uvs is not None and m.normals is not None
    np.testing.assert_allclose(m.normals, [[0, 0, 1]] * len(m.vertices))
    q = tmp_path / "nonormals.obj"
    q.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    assert load_obj(q).normals is None
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nv 1 0 x\n")
    with pytest.raises(ValueError, match=r"bad.obj:2"):
        load_obj(bad)
    with pytest.raises(OSError):
        load_obj(tmp_path / "missing.obj")
