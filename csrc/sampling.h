// Random numbers and the sampling routines of the integrator: each warp returns the
// sampled value and, where needed, its pdf.
#pragma once

#include <cstdint>

#include "lanemath.h"
#include "simd.h"
#include "vecmath.h"

namespace cnsr {

/// 64-bit mix (splitmix64 finaliser): hashes (seed, pixel, sample) into independent streams.
CNSR_LANE_INLINE uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/// PCG32 (O'Neill 2014), one generator per path: seeded by (seed, pixel, sample), so that renders
/// do not depend on how pixels are distributed over threads. The generators of a packet's lanes
/// are kept in structure-of-arrays form and drawn from in lane loops.
struct RngLanes {
    alignas(64) uint64_t state[kPacketWidth];
    alignas(64) uint64_t inc[kPacketWidth];
};

CNSR_LANE_INLINE uint32_t pcg32_step(uint64_t& state, uint64_t inc) {
    const uint64_t old = state;
    state = old * 6364136223846793005ULL + inc;
    const uint32_t xorshifted = uint32_t(((old >> 18u) ^ old) >> 27u);
    const uint32_t rot = uint32_t(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

/// Seeds lane i's generator from (seed, pixel[i], sample[i]).
CNSR_LANE_INLINE void rng_seed_lanes(RngLanes& r, uint64_t seed, const uint64_t* pixel, const uint64_t* sample) {
    const uint64_t s0 = mix64(seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
    for (int i = 0; i < kPacketWidth; ++i) {
        const uint64_t s = mix64(s0 ^ (pixel[i] + 0x8cb92ba72f3d8dd7ULL));
        const uint64_t stream = mix64(s ^ (sample[i] * 0xd1342543de82ef95ULL + 1));
        uint64_t state = 0;
        const uint64_t inc = (stream << 1u) | 1u;
        pcg32_step(state, inc);
        state += s;
        pcg32_step(state, inc);
        r.state[i] = state;
        r.inc[i] = inc;
    }
}

/// A uniform float in [0, 1) from each lane with draw[i] != 0 (those generators advance; the
/// others keep their state and get 0).
CNSR_LANE_INLINE void rng_uniform_lanes(RngLanes& r, const int* draw, float* out) {
    for (int i = 0; i < kPacketWidth; ++i) {
        uint64_t state = r.state[i];
        const uint32_t x = pcg32_step(state, r.inc[i]);
        const bool d = draw[i] != 0;
        r.state[i] = d ? state : r.state[i];
        out[i] = d ? float(int32_t(x >> 8)) * 0x1p-24f : 0.f;
    }
}

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
