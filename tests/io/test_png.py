"""PNG writer/reader round trip and tone mapping."""
import zlib

import numpy as np
import pytest

from cnsr.io.png import encode_png, read_png, tonemap, write_png


def test_png_round_trip_rgb_and_grey(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, size=(9, 5), dtype=np.uint8)
    assert np.array_equal(read_png(write_png(tmp_path / "a.png", rgb)), rgb)
    assert np.array_equal(read_png(write_png(tmp_path / "b.png", grey)), grey)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]  # no temporary left behind


def test_png_is_standard(tmp_path):
    data = encode_png(np.zeros((2, 3, 3), np.uint8))
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    # every chunk carries a valid CRC
    pos = 8
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        body = data[pos + 4:pos + 8 + n]
        assert int.from_bytes(data[pos + 8 + n:pos + 12 + n], "big") == zlib.crc32(body) & 0xFFFFFFFF
        pos += 12 + n
    pil = pytest.importorskip("PIL.Image")
    p = tmp_path / "c.png"
    img = (np.arange(60).reshape(4, 5, 3) * 4).astype(np.uint8)
    write_png(p, img)
    assert np.array_equal(np.asarray(pil.open(p)), img)


def test_bad_png_input_raises(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        encode_png(np.zeros((4, 4, 2)))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png"):
        read_png(bad)


def test_tonemap():
    hdr = np.array([[[0.0, 1.0, 1e6]], [[np.nan, -1.0, np.inf]]], np.float32)
    out = tonemap(hdr)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out[0, 0, 0] == 0 and 0.7 < out[0, 0, 1] < 0.8 and out[0, 0, 2] == pytest.approx(1.0, abs=1e-4)
    assert (out[1, 0] == 0).all()
    assert (np.diff(tonemap(np.linspace(0, 10, 50)[None, :, None]), axis=1) > 0).all()  # monotone
