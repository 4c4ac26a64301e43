// Random numbers and the sampling routines of the integrator: each warp returns the
// sampled value and, where needed, its pdf.
#pragma once

#include <cstdint>

#include "vecmath.h"

namespace cnsr {

/// 64-bit mix (splitmix64 finaliser): hashes (seed, pixel, sample) into independent streams.
inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// PCG32 (O'Neill 2014). One generator per (seed, pixel, sample) makes renders independent of
/// how pixels are distributed over threads.
class Rng {
public:
    Rng() = default;
    Rng(uint64_t seed, uint64_t pixel, uint64_t sample) {
        uint64_t s = mix64(seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
        s = mix64(s ^ (pixel + 0x8cb92ba72f3d8dd7ULL));
        uint64_t stream = mix64(s ^ (sample * 0xd1342543de82ef95ULL + 1));
        state_ = 0;
        inc_ = (stream << 1u) | 1u;
        next_u32();
        state_ += s;
        next_u32();
    }
    uint32_t next_u32() {
        uint64_t old = state_;
        state_ = old * 6364136223846793005ULL + inc_;
        uint32_t xorshifted = uint32_t(((old >> 18u) ^ old) >> 27u);
        uint32_t rot = uint32_t(old >> 59u);
        return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
    }
    /// Uniform float in [0, 1).
    float uniform() { return float(next_u32() >> 8) * 0x1p-24f; }

private:
    uint64_t state_ = 0, inc_ = 1;
};

/// Cosine-weighted direction on the hemisphere around +z (Malley's method); pdf = cos / pi.
inline Vec3 sample_cosine_hemisphere(float u1, float u2) {
    // concentric disk mapping (Shirley & Chiu)
    float a = 2.f * u1 - 1.f, b = 2.f * u2 - 1.f;
    float r, phi;
    if (a == 0.f && b == 0.f) {
        r = 0.f;
        phi = 0.f;
    } else if (a * a > b * b) {
        r = a;
        phi = (kPi / 4.f) * (b / a);
    } else {
        r = b;
        phi = (kPi / 2.f) - (kPi / 4.f) * (a / b);
    }
    float x = r * std::cos(phi), y = r * std::sin(phi);
    float z = std::sqrt(std::max(0.f, 1.f - x * x - y * y));
    return {x, y, z};
}

/// Balance heuristic weight of a strategy with pdf `pa` against one with pdf `pb` (one sample each).
inline float balance_heuristic(float pa, float pb) {
    float s = pa + pb;
    return s > 0.f ? pa / s : 0.f;
}

}  // namespace cnsr
