"""The renderer's light sampler, through the hooks that run its lane kernels (the code next-event
estimation and the shadows pass use): samples lie on the light, their densities are those
light_pdf gives the emitter hits, the density integrates to one, and chi-square of the
sampled directions against it."""
import math

import numpy as np
import pytest

from cnsr import _renderer as R
from sampling_stats import chi2_pvalue, expected_fractions, frame, histogram

SPHERE = {"type": "sphere", "center": [0.3, 2.0, -0.2], "radius": 0.5}
QUAD = {"type": "quad", "corner": [-0.4, 1.5, -0.3], "e1": [0.9, 0.0, 0.1], "e2": [0.0, 0.0, 0.7],
        "normal": [0.0, -1.0, 0.0]}  # emits downwards
POINTS = [[0.0, 0.0, 0.0], [1.5, 1.2, 0.4], [0.2, 1.48, 0.0], [-3.0, -0.5, 2.0], [1.0, 1.7, 0.2]]


def f32(a):
    return np.ascontiguousarray(a, np.float32)


def hit(light, p, w):
    """Distance along the unit directions w (m, 3) from p to the light's front side (inf: none)."""
    p = np.asarray(p, np.float64)
    if light["type"] == "sphere":
        f = p - np.asarray(light["center"], np.float64)
        b = w @ f
        disc = b * b - (f @ f - light["radius"] ** 2)
        t = -b - np.sqrt(np.clip(disc, 0, None))
        return np.where((disc > 0) & (t > 0), t, np.inf)
    c, e1, e2 = (np.asarray(light[k], np.float64) for k in ("corner", "e1", "e2"))
    n = np.asarray(light["normal"], np.float64)
    n /= np.linalg.norm(n)
    denom = w @ n
    t = ((c - p) @ n) / np.where(denom != 0, denom, 1)
    q = p + t[:, None] * w - c
    # coordinates in the parallelogram
    m = np.array([[e1 @ e1, e1 @ e2], [e1 @ e2, e2 @ e2]])
    st = np.linalg.solve(m, np.stack([q @ e1, q @ e2]))
    inside = (st[0] >= 0) & (st[0] <= 1) & (st[1] >= 0) & (st[1] <= 1)
    return np.where(inside & (denom < 0) & (t > 0), t, np.inf)


def density(light, p):
    def pdf(w):
        t = hit(light, p, w)
        out = R._light_pdf(light, f32(np.repeat(np.asarray(p)[None], len(w), 0)), f32(w),
                           f32(np.where(np.isfinite(t), t, 1.0)))
        return np.where(np.isfinite(t), out.astype(np.float64), 0.0)
    return pdf


def sample(light, p, n, seed):
    u = np.random.default_rng(seed).random((n, 2))
    return R._light_sample(light, f32(np.repeat(np.asarray(p, np.float64)[None], n, 0)), f32(u))


def cone(light, p):
    """(frame about the direction to the light's centre, cos of the widest angle it spans)."""
    p = np.asarray(p, np.float64)
    if light["type"] == "sphere":
        c = np.asarray(light["center"], np.float64)
        d = np.linalg.norm(c - p)
        return frame(c - p), math.sqrt(max(0.0, 1 - (light["radius"] / d) ** 2)) - 1e-3
    c, e1, e2 = (np.asarray(light[k], np.float64) for k in ("corner", "e1", "e2"))
    fr = frame(c + 0.5 * e1 + 0.5 * e2 - p)
    corners = np.stack([c, c + e1, c + e2, c + e1 + e2]) - p
    cos = (corners / np.linalg.norm(corners, axis=1, keepdims=True)) @ fr[2]
    return fr, float(cos.min()) - 1e-3


@pytest.mark.parametrize("light", [SPHERE, QUAD], ids=["sphere", "quad"])
@pytest.mark.parametrize("p", POINTS)
def test_samples_lie_on_the_light_with_the_density_of_light_pdf(light, p):
    w, q, pdf, ok = sample(light, p, 4000, 1)
    ok = ok > 0
    if light["type"] == "quad" and p[1] > 1.5:
        assert not ok.any()  # behind the one-sided quad (or in its plane): nothing to sample
        return
    assert ok.all()
    w, q, pdf = w[ok].astype(np.float64), q[ok].astype(np.float64), pdf[ok].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-5)
    dist = np.linalg.norm(q - np.asarray(p), axis=1)
    np.testing.assert_allclose(w, (q - np.asarray(p)) / dist[:, None], atol=1e-4)
    if light["type"] == "sphere":
        np.testing.assert_allclose(np.linalg.norm(q - light["center"], axis=1), light["radius"], rtol=1e-3)
    else:
        n = np.asarray(light["normal"], np.float64)
        np.testing.assert_allclose((q - light["corner"]) @ n, 0.0, atol=1e-5)
    np.testing.assert_allclose(density(light, p)(w), pdf, rtol=2e-3)


def test_no_samples_from_inside_a_sphere_light():
    _, _, pdf, ok = sample(SPHERE, SPHERE["center"], 100, 2)
    assert not ok.any()
    assert not R._light_pdf(SPHERE, f32([SPHERE["center"]]), f32([[0, 1, 0]]), f32([0.5])).any()


@pytest.mark.parametrize("light", [SPHERE, QUAD], ids=["sphere", "quad"])
@pytest.mark.parametrize("p", [POINTS[0], POINTS[1], POINTS[3]])
def test_density_integrates_to_one_and_matches_the_samples_chi2(light, p):
    fr, zmin = cone(light, p)
    nz, nphi, n = 16, 32, 100000
    # fine sub-cells: the quad's edges cut cells, where the midpoint rule is least accurate
    frac = expected_fractions(density(light, p), fr, zmin, nz, nphi, sub=24)
    assert frac.sum() == pytest.approx(1.0, abs=5e-3)
    w, _, _, ok = sample(light, p, n, 3)
    assert (ok > 0).all()
    observed = histogram(w.astype(np.float64), fr, zmin, nz, nphi)
    assert observed.sum() == n  # every sample inside the cone the light spans
    pval, chi2, dof = chi2_pvalue(observed, frac / frac.sum() * n)
    assert pval > 1e-4, f"chi2 {chi2:.1f} with {dof} degrees of freedom: p = {pval:.2g}"
