"""cnsr.io.preview: the one display mapping per pass kind and the one grid builder."""
import numpy as np
import pytest
import torch

from cnsr.io.png import linear_to_srgb
from cnsr.io.preview import (BACKGROUND, DISPLAY_KINDS, ID_PALETTE, display, display_kind, grid, grid_cells,
                             id_denominator)
from cnsr.passes import PASS_TABLE, PASSES, SHADING_PASSES, PassInfo


@pytest.mark.parametrize("name", list(PASSES))
def test_every_pass_maps_to_rgb_in_the_unit_range(name):
    rng = np.random.default_rng(0)
    img = rng.normal(0, 3, (5, 6, PASSES[name])).astype(np.float32)
    img[0, 0] = np.nan
    out = display(name, img)
    assert out.shape == (5, 6, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_the_display_kind_is_the_pass_tables(monkeypatch):
    """How a pass is shown is its row's display column: a new pass is one row of the table."""
    assert {p: display_kind(p) for p in PASS_TABLE} == {p: i.display for p, i in PASS_TABLE.items()}
    assert set(DISPLAY_KINDS) == {i.display for i in PASS_TABLE.values()}
    assert display_kind("not_a_pass") == "grey"
    monkeypatch.setitem(PASS_TABLE, "bent_normal", PassInfo(3, "direction", signed=True))
    assert display("bent_normal", -np.ones((1, 1, 3))).max() == 0          # shown as a direction
    monkeypatch.setitem(PASS_TABLE, "bent_normal", PassInfo(3, "arrows"))
    with pytest.raises(ValueError, match="unknown display kind 'arrows'"):
        display("bent_normal", np.ones((1, 1, 3)))


def test_radiance_is_reinhard_then_srgb_and_monotone():
    x = np.array([0.0, 0.25, 1.0, 3.0, 100.0])[None, :, None].repeat(3, axis=2)
    for name in SHADING_PASSES:
        out = display(name, x)
        assert np.allclose(out[0, :, 0], linear_to_srgb(x[0, :, 0] / (1 + x[0, :, 0])), atol=1e-6)
        assert (np.diff(out[0, :, 0]) > 0).all() and out.max() < 1     # highlights roll off, never clip
    assert np.allclose(display("beauty", x, exposure=2.0), display("beauty", 2 * x))
    assert display("beauty", -np.ones((1, 1, 3))).max() == 0


def test_directions_albedo_and_grey_passes():
    n = np.array([-1.0, 0.0, 1.0]).reshape(1, 1, 3)
    assert display("normal", n).ravel().tolist() == [0.0, 0.5, 1.0]
    assert display("mirror_normal", n).ravel().tolist() == [0.0, 0.5, 1.0]
    a = np.array([0.0, 0.5, 2.0]).reshape(1, 1, 3)
    assert np.allclose(display("albedo", a).ravel(), linear_to_srgb(np.array([0.0, 0.5, 1.0])))
    ao = np.array([[0.2, 0.7]])[..., None]
    assert np.allclose(display("ao", ao), np.repeat(ao, 3, axis=-1))      # grey, linear
    assert {display_kind(p) for p in ("roughness", "shadows", "ao")} == {"grey"}


def test_depth_is_normalised_per_image_near_bright_background_black():
    d = np.array([[0.0, 1.0], [2.0, 4.0]])[..., None]
    out = display("depth", d)[..., 0]
    assert out[0, 0] == 0                                   # nothing hit
    assert np.allclose(out[1, 1], 0.15) and out[0, 1] > out[1, 0] > out[1, 1]
    assert np.allclose(display("depth", 10 * d)[..., 0], out)   # scale free
    # a batch normalises each image by its own far hit
    batch = np.stack([d, 10 * d])
    assert np.allclose(display("depth", batch), np.stack([display("depth", d)] * 2))


def test_positions_are_min_max_per_image_and_channel():
    p = np.arange(12, dtype=np.float32).reshape(2, 2, 3) * np.array([1.0, 10.0, -1.0])
    out = display("position", p)
    assert np.allclose(out.min(axis=(0, 1)), 0) and np.allclose(out.max(axis=(0, 1)), 1)


@pytest.mark.parametrize("max_id", [12, 16])       # the rooms' and ArchViz's
def test_ids_get_the_palette_colour_of_their_integer_id(max_id):
    ids = np.arange(max_id, dtype=np.float32) / np.float32(max_id)     # as the renderer stores them
    out = display("id", ids.reshape(1, -1, 1))[0]
    assert out[0].tolist() == [0, 0, 0]                     # id 0 / nothing hit: black
    assert np.allclose(out[1:], ID_PALETTE[(np.arange(1, max_id) - 1) % len(ID_PALETTE)])
    assert len({tuple(c) for c in out[1:]}) == max_id - 1   # every id its own colour
    # an image with few ids: a divisor of the max id, the colours still distinct
    few = display("id", ids[[0, 3, 6, 9]].reshape(2, 2, 1)).reshape(4, 3)
    assert len({tuple(c) for c in few[1:]}) == 3 and few[0].tolist() == [0, 0, 0]
    assert id_denominator(ids) == max_id
    # pixels on an edge hold a mixture of two ids: they do not change the others' colours
    img = np.repeat(ids, 20).reshape(-1, 1, 1)
    mixed = img.copy()
    mixed[::20] = mixed[::20] + 0.25 / max_id                # 4 spp: quarters of an id step
    assert id_denominator(mixed) == max_id
    assert np.array_equal(display("id", mixed)[1::20], display("id", img)[1::20])


@pytest.mark.parametrize("name", ["beauty", "normal", "depth", "id", "position", "albedo", "ao"])
def test_torch_input_is_channels_first_and_agrees_with_numpy(name):
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 2, (2, 4, 5, PASSES[name])).astype(np.float32)
    t = torch.from_numpy(np.moveaxis(a, -1, -3).copy())      # [B, C, H, W]
    out = display(name, t)
    assert torch.is_tensor(out) and out.shape == (2, 3, 4, 5)
    assert np.allclose(np.moveaxis(out.numpy(), -3, -1), display(name, a), atol=1e-6)


def test_grid_layout_gap_and_background():
    a, b = np.zeros((4, 6, 3)), np.ones((4, 6))              # colour and grey tiles
    g = grid([[a, b], [None, a]], gap=2)
    assert g.shape == (2 + 2 * 6, 2 + 2 * 8, 3) and g.dtype == np.float32
    cells = grid_cells(2, 2, 4, 6, gap=2)
    assert cells == [(2, 2, 6, 4), (10, 2, 6, 4), (2, 8, 6, 4), (10, 8, 6, 4)]
    x, y, w, h = cells[1]
    assert (g[y:y + h, x:x + w] == 1).all()
    x, y, w, h = cells[2]
    assert np.allclose(g[y:y + h, x:x + w], BACKGROUND)     # None stays background
    assert np.allclose(g[0], BACKGROUND) and np.allclose(g[:, 8:10], BACKGROUND)


def test_grid_resizes_to_one_tile_size_nearest_and_upscales_small_tiles():
    small = np.arange(4, dtype=np.float32).reshape(2, 2) / 3
    big = np.zeros((4, 4, 3))
    g = grid([[small, big]])
    assert g.shape == (4, 8, 3)
    assert np.array_equal(g[:, :4, 0], np.kron(small, np.ones((2, 2))))   # nearest, no blending
    g = grid([[small]], min_tile=5)                          # smallest whole factor: 3
    assert g.shape == (6, 6, 3) and np.array_equal(g[:, :, 0], np.kron(small, np.ones((3, 3))))
    g = grid([[torch.ones(3, 8, 8)]], tile_size=(4, 4))      # tensors are channels-first
    assert g.shape == (4, 4, 3) and (g == 1).all()


def test_grid_labels_are_drawn_in_margins_only():
    tiles = [[np.zeros((8, 8, 3))] * 2] * 2
    plain = grid(tiles, gap=1)
    g = grid(tiles, gap=1, row_labels=["a", "b"], col_labels=["beauty", "normal"])
    h, w = g.shape[:2]
    top, left = h - plain.shape[0], w - plain.shape[1]
    assert top > 0 and left > 0
    assert np.array_equal(g[top:, left:], plain)             # tiles untouched
    assert g[:top].max() > 0.5 and g[top:, :left].max() > 0.5   # white text in both margins
    with pytest.raises(ValueError):
        grid([[None]])
