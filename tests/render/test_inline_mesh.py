"""Inline mesh arrays are validated like OBJ files: indices are integers in range, nothing
wraps around (2**32 is not 0) and nothing is truncated (1.7 is not 1)."""
import numpy as np
import pytest

from render_helpers import box_room
from cnsr.render import Renderer, SceneError

TRI = [[-0.5, 0.2, 0.0], [0.5, 0.2, 0.0], [0.0, 1.2, 0.0]]


def scene_with(faces, vertices=TRI, **extra):
    s = box_room()
    s["geometry"].append({"type": "mesh", "material": "cube", "vertices": vertices, "faces": faces, **extra})
    return s


@pytest.mark.parametrize("faces, needle", [
    ([[0, 1, 2 ** 32]], "out of range"),            # used to wrap to 0
    ([[0, 1, 2 ** 32 + 2]], "out of range"),        # ... to 2: a valid-looking triangle
    ([[0, 1, 2 ** 70]], "out of range"),            # beyond int64
    ([[0, 1, -1]], "out of range"),
    ([[0, 1, 3]], "out of range"),
    ([[0, 1, 1.7]], "integers"),                    # used to be truncated to 1
    ([[0, 1, float("nan")]], "integers"),
    ([[0, True, 2]], "integer"),
    ([[0, "1", 2]], "integer"),
    ([[0, 1]], "rows of 3"),
    ([[0, 1, 2], [0, 1]], "rows of 3"),                 # ragged
    ([], "non-empty"),
])
def test_bad_face_indices_raise_naming_the_field(faces, needle):
    with pytest.raises(SceneError, match=r"geometry\[8\].*field 'faces'.*" + needle):
        Renderer().load_scene(scene_with(faces))


@pytest.mark.parametrize("extra, needle", [
    ({"normals": [[0, 0, 1]] * 2}, "'normals'.*one row per vertex"),
    ({"uvs": [[0, 0], [1, 0], [0, float("inf")]]}, "'uvs'.*NaN or Inf"),
    ({"vertices": [[0, 0], [1, 0], [0, 1]]}, "'vertices'.*rows of 3"),
])
def test_bad_vertex_arrays_raise_naming_the_field(extra, needle):
    with pytest.raises(SceneError, match=needle):
        Renderer().load_scene(scene_with([[0, 1, 2]], **extra))


def test_integral_floats_and_numpy_indices_are_accepted_and_render_the_same():
    r = Renderer(threads=1)
    r.load_scene(scene_with([[0, 1, 2]]))
    a = r.render(size=16, spp=1, passes=["depth"])["depth"]
    r.load_scene(scene_with([[0.0, 1.0, 2.0]]))
    b = r.render(size=16, spp=1, passes=["depth"])["depth"]
    r.load_scene(scene_with(np.array([[0, 1, 2]], dtype=np.uint32), vertices=np.array(TRI, dtype=np.float32)))
    c = r.render(size=16, spp=1, passes=["depth"])["depth"]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
