"""The renderer's BSDF, through the hooks that run its lane kernels (the code that renders):
values against the material model written out here in NumPy, reciprocity, energy
conservation, sampling against evaluation (the estimator's mean, the densities, chi-square)."""
import math

import numpy as np
import pytest

from cnsr import _renderer as R
from sampling_stats import chi2_pvalue, directions, expected_fractions, frame, histogram

IOR = 15.0
ROUGHNESS = [1.0, 0.7, 0.45, 0.25, 0.08]


def unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def hemisphere(n, rng):
    """n uniform directions on the upper hemisphere."""
    z, phi = rng.random(n), 2 * math.pi * rng.random(n)
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)


def f32(a):
    return np.ascontiguousarray(a, np.float32)


def model(albedo, rough, ior, wo, wi):
    """The material model (README, "The renderer"): Lambert + GGX mixture with
    spec = 1 - (roughness - 0.05) / 0.95, alpha = roughness^2, Smith height-correlated G,
    dielectric Fresnel, visible-normal sampling densities. -> (f_diffuse (n, 3), f_specular, pdf_diffuse, pdf_specular)."""
    wo, wi = np.asarray(wo, np.float64), np.asarray(wi, np.float64)
    spec = min(1.0, max(0.0, 1 - (rough - 0.05) / 0.95))
    a = max(rough * rough, 1e-4)
    co, ci = wo[:, 2], wi[:, 2]
    up = (co > 0) & (ci > 0)
    h = unit(wo + wi)
    c2 = h[:, 2] ** 2
    D = a * a / (math.pi * (c2 * (a * a - 1) + 1) ** 2)

    def lam(c):
        c2 = c * c
        return 0.5 * (-1 + np.sqrt(1 + a * a * np.clip(1 - c2, 0, None) / np.where(c2 > 0, c2, 1)))
    G2 = 1 / (1 + lam(co) + lam(ci))
    G1 = 1 / (1 + lam(co))
    cos_i = np.clip(np.einsum("ij,ij->i", wo, h), 0, 1)
    sin2_t = (1 - cos_i ** 2) / ior ** 2
    cos_t = np.sqrt(1 - sin2_t)
    rs = (cos_i - ior * cos_t) / (cos_i + ior * cos_t)
    rp = (ior * cos_i - cos_t) / (ior * cos_i + cos_t)
    F = 0.5 * (rs ** 2 + rp ** 2)
    safe = np.where(up, co * ci, 1)
    fd = np.where(up[:, None], (1 - spec) * np.asarray(albedo)[None, :] / math.pi, 0)
    fs = np.where(up, spec * D * G2 * F / (4 * safe), 0)
    pd = np.where(up, (1 - spec) * ci / math.pi, 0)
    ps = np.where(up, spec * G1 * D / (4 * np.where(up, co, 1)), 0)
    return fd, fs, pd, ps


def reflectance(albedo, rough, wo):
    """int f(wo, wi) cos(wi) dwi by quadrature, fine enough for the sharpest lobe: polar angle
    about the mirror direction in a cap of 0.5 rad (dw = sin dtheta dphi), the rest of the sphere
    in equal-solid-angle cells (dw = dz dphi); directions below the surface evaluate to 0."""
    fr = frame([-wo[0], -wo[1], wo[2]])
    cap = 0.5
    th = (np.arange(2000) + 0.5) / 2000 * cap
    ph = (np.arange(128) + 0.5) / 128 * 2 * math.pi
    T, P = np.meshgrid(th, ph, indexing="ij")
    w_cap = directions(np.cos(T).ravel(), P.ravel(), fr)
    dw_cap = (np.sin(T) * (cap / 2000) * (2 * math.pi / 128)).ravel()
    z = -1 + (np.arange(600) + 0.5) / 600 * (1 + math.cos(cap))
    Z, P = np.meshgrid(z, (np.arange(400) + 0.5) / 400 * 2 * math.pi, indexing="ij")
    w_rest = directions(Z.ravel(), P.ravel(), fr)
    dw_rest = np.full(len(w_rest), (1 + math.cos(cap)) / 600 * 2 * math.pi / 400)
    w, dw = np.concatenate([w_cap, w_rest]), np.concatenate([dw_cap, dw_rest])
    fd, fs, _, _ = lane_eval(albedo, rough, np.repeat(np.asarray(wo)[None], len(w), 0), w)
    return ((fd + fs[:, None]) * np.clip(w[:, 2:3], 0, None) * dw[:, None]).sum(axis=0)


def lane_eval(albedo, rough, wo, wi):
    fd, fs, pd, ps = R._bsdf_eval(albedo, rough, IOR, f32(wo), f32(wi))
    return fd.astype(np.float64), fs.astype(np.float64), pd.astype(np.float64), ps.astype(np.float64)


def lane_sample(albedo, rough, wo, n, rng):
    wo = np.repeat(np.asarray(wo, np.float64)[None], n, 0)
    return R._bsdf_sample(albedo, rough, IOR, f32(wo), f32(rng.random((n, 3))))


@pytest.mark.parametrize("rough", ROUGHNESS)
def test_values_are_the_material_model(rough):
    rng = np.random.default_rng(1)
    wo, wi = hemisphere(4000, rng), hemisphere(4000, rng)
    wo[0], wi[0] = [0, 0, 1], [0, 0, 1]   # normal incidence
    wi[1] = [-wo[1, 0], -wo[1, 1], wo[1, 2]]  # the mirror direction: the GGX peak
    wi[2, 2] = -wi[2, 2]                  # below the surface: no scattering
    albedo = [0.9, 0.5, 0.2]
    wo, wi = f32(wo).astype(np.float64), f32(wi).astype(np.float64)
    got, want = lane_eval(albedo, rough, wo, wi), model(albedo, rough, IOR, wo, wi)
    # float32: D's denominator cos^2 (alpha^2 - 1) + 1 loses digits at the peak of a sharp lobe
    rtol = 2e-4 if rough > 0.1 else 3e-3
    for g, w, name in zip(got, want, ("f_diffuse", "f_specular", "pdf_diffuse", "pdf_specular")):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-7, err_msg=name)
    assert not np.any(got[1][2]) and not np.any(got[0][2])


@pytest.mark.parametrize("rough", ROUGHNESS)
def test_reciprocity(rough):
    rng = np.random.default_rng(2)
    wo, wi = hemisphere(4000, rng), hemisphere(4000, rng)
    a, b = lane_eval([0.6, 0.6, 0.6], rough, wo, wi), lane_eval([0.6, 0.6, 0.6], rough, wi, wo)
    np.testing.assert_allclose(a[0] + a[1][:, None], b[0] + b[1][:, None], rtol=2e-4, atol=1e-7)


@pytest.mark.parametrize("rough", ROUGHNESS)
@pytest.mark.parametrize("cos_o", [1.0, 0.6, 0.15])
def test_energy_conservation(rough, cos_o):
    """A white material reflects at most what it receives: albedo(wo) = int f cos <= 1, both by
    quadrature of f and as the mean sample weight f cos / pdf (which never exceeds 1 either:
    f cos / pdf <= 1 for every sample of this model); exactly 1 for the Lambertian lobe."""
    wo = unit([math.sqrt(1 - cos_o ** 2), 0.0, cos_o])
    albedo = float(reflectance([1, 1, 1], rough, wo)[0])
    _, weight, _, _, _ = lane_sample([1, 1, 1], rough, wo, 20000, np.random.default_rng(3))
    assert albedo <= 1.0 + 2e-3
    assert weight.max() <= 1.0 + 1e-5
    if rough == 1.0:
        assert albedo == pytest.approx(1.0, abs=2e-3)
        np.testing.assert_allclose(weight, 1.0, rtol=1e-5)


@pytest.mark.parametrize("rough", ROUGHNESS)
@pytest.mark.parametrize("cos_o", [0.9, 0.4])
def test_samples_agree_with_evaluation(rough, cos_o):
    """Every sample's pdf and weight are those the evaluation gives for its direction, and the
    mean weight E[f cos / pdf] is the quadrature of f cos (an unbiased estimator)."""
    wo = unit([math.sqrt(1 - cos_o ** 2), 0.3, cos_o])
    albedo = [0.8, 0.5, 0.3]
    n = 50000
    wi, weight, pdf, pdf_d, lobe = lane_sample(albedo, rough, wo, n, np.random.default_rng(4))
    ok = pdf > 0
    assert ok.mean() > 0.5
    fd, fs, pd, ps = lane_eval(albedo, rough, np.repeat(wo[None], n, 0)[ok], wi[ok])
    np.testing.assert_allclose(pdf[ok], pd + ps, rtol=1e-5)
    np.testing.assert_allclose(pdf_d[ok], pd, rtol=1e-5)
    np.testing.assert_allclose(weight[ok], (fd + fs[:, None]) * wi[ok, 2:3] / (pd + ps)[:, None], rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(wi[ok], axis=1), 1.0, atol=1e-5)
    spec = min(1.0, max(0.0, 1 - (rough - 0.05) / 0.95))
    assert lobe.mean() == pytest.approx(1 - spec, abs=0.01)
    want = reflectance(albedo, rough, wo)
    got = weight.mean(axis=0)
    se = weight.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(got - want) <= 4 * se + 2e-3 * want), (got, want, se)


@pytest.mark.parametrize("rough", [1.0, 0.7, 0.45, 0.3])
@pytest.mark.parametrize("cos_o", [0.95, 0.5, 0.2])
def test_sampling_density_chi2(rough, cos_o):
    """Pearson's chi-square test of the sampled directions against the pdf the evaluation
    returns (cells of equal solid angle over the hemisphere; directions not produced count in
    a cell of their own, expected 1 - int pdf)."""
    wo = unit([math.sqrt(1 - cos_o ** 2), 0.0, cos_o])
    n, nz, nphi = 200000, 24, 48
    wi, _, pdf, _, _ = lane_sample([0.5, 0.5, 0.5], rough, wo, n, np.random.default_rng(5))
    ok = pdf > 0
    fr = frame([0.0, 0.0, 1.0])

    def density(w):
        _, _, pd, ps = lane_eval([0.5, 0.5, 0.5], rough, np.repeat(wo[None], len(w), 0), w)
        return pd + ps
    frac = expected_fractions(density, fr, 0.0, nz, nphi, sub=8)
    observed = np.append(histogram(wi[ok].astype(np.float64), fr, 0.0, nz, nphi).ravel(), (~ok).sum())
    expected = np.append(frac.ravel(), max(0.0, 1 - frac.sum())) * n
    assert frac.sum() <= 1.0 + 2e-3
    p, chi2, dof = chi2_pvalue(observed, expected)
    assert p > 1e-4, f"chi2 {chi2:.1f} with {dof} degrees of freedom: p = {p:.2g}"
