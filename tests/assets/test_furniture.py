"""Procedural furniture meshes: valid, outward-facing, sized as the layout expects, registered."""
import numpy as np
import pytest

import cnsr.assets as assets
from cnsr.assets import furniture


@pytest.mark.parametrize("name", sorted(furniture.BUILDERS))
def test_mesh_is_valid_and_faces_outwards(name):
    m = furniture.build(name).validate(name)
    assert m.vertices.dtype == np.float32 and m.faces.dtype == np.int32
    assert m.normals.shape == m.vertices.shape and m.uvs.shape == (len(m.vertices), 2)
    assert np.allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-5)
    v = m.vertices.astype(np.float64)
    f = m.faces
    geo = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    # counter-clockwise about the vertex normals (the front side)
    assert (np.einsum("ij,ij->i", geo, m.normals[f].sum(axis=1)) > 0).all()
    # a closed part encloses positive volume when its faces point outwards (divergence theorem)
    volume = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0
    assert volume > 0


def test_every_kind_has_designs_and_expected_sizes():
    for kind in ("table", "chair", "sofa", "armchair", "coffee_table"):
        assert len(furniture.DESIGNS[kind]) >= 3
    for name in furniture.DESIGNS["table"]:
        lo, hi = furniture.build(name).bounds
        assert lo[1] == 0 and 0.7 < hi[1] < 0.8 and 1.4 < hi[0] - lo[0] < 1.8
    for name in furniture.DESIGNS["chair"]:
        lo, hi = furniture.build(name).bounds
        assert lo[1] == 0 and 0.85 < hi[1] < 1.0 and hi[0] - lo[0] < 0.6
        # the back rises at the rear (-z): the highest vertices are behind the seat centre
        m = furniture.build(name)
        top = m.vertices[m.vertices[:, 1] > hi[1] - 0.02]
        assert top[:, 2].max() < 0
    for name in furniture.DESIGNS["sofa"] + furniture.DESIGNS["armchair"]:
        m = furniture.build(name)
        lo, hi = m.bounds
        top = m.vertices[m.vertices[:, 1] > hi[1] - 0.02]
        assert lo[1] == 0 and top[:, 2].max() < 0   # back at -z, seat front at +z
    lo, hi = furniture.build("ceiling_lamp").bounds
    assert hi[1] == 0 and lo[1] == pytest.approx(-furniture.LAMP_DROP)
    lo, hi = furniture.build("rug").bounds
    assert hi[1] - lo[1] == pytest.approx(furniture.RUG_THICKNESS)


def test_registered_by_name_in_asset_registry():
    for name in furniture.BUILDERS:
        assert assets.has_mesh(name + ".obj")
    m = assets.get_mesh("sofa_b.obj")
    assert isinstance(m, assets.Mesh) and len(m.faces) > 100


def test_slab_bevel_and_cylinder_axes():
    b = furniture.MeshBuilder()
    b.slab((0, 0), 0.0, 0.1, (1.0, 0.5), bevel=0.02, corner=0.05)
    m = b.build()
    lo, hi = m.bounds
    assert np.allclose(lo, [-0.5, 0, -0.25], atol=1e-6) and np.allclose(hi, [0.5, 0.1, 0.25], atol=1e-6)
    top = m.vertices[np.isclose(m.vertices[:, 1], 0.1)]
    assert np.abs(top[:, 0]).max() == pytest.approx(0.48, abs=1e-6)  # the chamfer insets the top face
    for axis in range(3):
        c = furniture.MeshBuilder()
        c.cylinder((0, 0, 0), 0.1, 2.0, axis=axis)
        lo, hi = c.build().bounds
        assert hi[axis] == pytest.approx(2.0) and (hi - lo).max() == pytest.approx(2.0)
