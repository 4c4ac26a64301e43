"""Statistics for the sampling tests: Pearson's chi-square test of sampled directions against
the density that should have produced them (the method of Mitsuba's chi2 tests and pbrt's
sampling tests), with its p-value from the regularized incomplete gamma function."""
from __future__ import annotations

import math

import numpy as np


def frame(axis):
    """(s, t, n): an orthonormal frame with n = axis (unit)."""
    n = np.asarray(axis, np.float64)
    n = n / np.linalg.norm(n)
    a = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    s = np.cross(a, n)
    s /= np.linalg.norm(s)
    return s, np.cross(n, s), n


def directions(z, phi, fr):
    """World directions of (cos theta, phi) about the frame's n (z: (m,), phi: (m,))."""
    s, t, n = fr
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    return (r * np.cos(phi))[:, None] * s + (r * np.sin(phi))[:, None] * t + z[:, None] * n


def expected_fractions(pdf, fr, zmin, nz, nphi, sub=8):
    """The probability of each (z, phi) cell (z = cos theta about the frame's n, in [zmin, 1],
    nz x nphi equal cells; solid angle dz dphi) under the solid-angle density pdf(directions (m, 3))
    -> (m,): midpoint rule with sub x sub points per cell."""
    dz, dphi = (1.0 - zmin) / nz, 2 * math.pi / nphi
    k = (np.arange(sub) + 0.5) / sub
    zc = zmin + (np.arange(nz)[:, None] + k[None, :]).reshape(-1) * dz  # nz * sub
    pc = (np.arange(nphi)[:, None] + k[None, :]).reshape(-1) * dphi      # nphi * sub
    Z, P = np.meshgrid(zc, pc, indexing="ij")
    vals = pdf(directions(Z.reshape(-1), P.reshape(-1), fr)).reshape(nz, sub, nphi, sub)
    return vals.mean(axis=(1, 3)) * dz * dphi


def histogram(w, fr, zmin, nz, nphi):
    """Counts of the unit directions w (m, 3) in the cells of expected_fractions (z < zmin: dropped)."""
    s, t, n = fr
    z = w @ n
    phi = np.mod(np.arctan2(w @ t, w @ s), 2 * math.pi)
    iz = np.floor((z - zmin) / (1.0 - zmin) * nz).astype(int)
    ip = np.minimum(np.floor(phi / (2 * math.pi) * nphi).astype(int), nphi - 1)
    keep = iz >= 0
    iz = np.minimum(iz, nz - 1)  # z = 1 (rounding) in the top row
    return np.bincount(iz[keep] * nphi + ip[keep], minlength=nz * nphi).reshape(nz, nphi).astype(np.float64)


def chi2_pvalue(observed, expected, min_expected=5.0):
    """Pearson's test: cells expecting fewer than min_expected samples are pooled into one; returns
    (p-value, chi-square, degrees of freedom)."""
    o, e = np.asarray(observed, float).ravel(), np.asarray(expected, float).ravel()
    small = e < min_expected
    o = np.append(o[~small], o[small].sum())
    e = np.append(e[~small], e[small].sum())
    if e[-1] < min_expected:  # the pool itself too small: merge it into the smallest cell
        j = int(np.argmin(e[:-1]))
        o[j] += o[-1]
        e[j] += e[-1]
        o, e = o[:-1], e[:-1]
    chi2 = float(((o - e) ** 2 / e).sum())
    dof = len(e) - 1
    return gamma_q(dof / 2.0, chi2 / 2.0), chi2, dof


def gamma_q(a, x):
    """The regularized upper incomplete gamma function Q(a, x): a series for x < a + 1, else a
    continued fraction (modified Lentz)."""
    if x <= 0:
        return 1.0
    log_pre = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(10000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_pre))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(log_pre) * h
