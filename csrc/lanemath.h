// Branch-free float functions for the lane loops: written so that GCC vectorises loops that call
// them (libm's sinf/cosf are calls, which stop vectorisation). Exact to a few ulp; the same
// results in every build (only +, -, *, conversions and selects; no FMA contraction).
#pragma once

#include <cstdint>

#include "simd.h"

namespace cnsr {

/// sin(x) and cos(x) for |x| <= 2^20 (the samplers use [-pi, 2 pi]): reduction by pi/2 in three
/// parts (Cody & Waite), then the minimax polynomials of Cephes' sinf/cosf on [-pi/4, pi/4].
/// Absolute error below 2e-7 on the samplers' range (tests/render/test_lanes.py).
CNSR_LANE_INLINE void sincos_lane(float x, float* s, float* c) {
    const float k = x * 0.63661977236758134f;            // x / (pi / 2)
    const float j = (k + 12582912.f) - 12582912.f;         // round to nearest (1.5 * 2^23 trick)
    const float r = ((x - j * 1.5703125f) - j * 4.837512969970703125e-4f) - j * 7.54978995489188216e-8f;
    const float z = r * r;
    const float sp = r + r * z * (-1.6666654611e-1f + z * (8.3321608736e-3f + z * -1.9515295891e-4f));
    const float cp = 1.f - 0.5f * z + z * z * (4.166664568298827e-2f + z * (-1.388731625493765e-3f + z * 2.443315711809948e-5f));
    const int32_t q = int32_t(j) & 3;  // quadrant
    const float sq = (q & 1) != 0 ? cp : sp;
    const float cq = (q & 1) != 0 ? sp : cp;
    *s = (q & 2) != 0 ? -sq : sq;
    *c = ((q + 1) & 2) != 0 ? -cq : cq;
}

}  // namespace cnsr
