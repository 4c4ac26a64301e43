// Run-time choice of the instruction set for the lane loops that are compiled twice (the x86-64
// baseline and AVX2; shading_lanes.inc, sphere_lanes.inc). The AVX2 build is used where the CPU
// has AVX2, unless the environment variable CNSR_NO_AVX2 is set (read once). Both builds give
// the same bits (no FMA contraction, the same operations in the same order; tests/render/test_lanes.py).
#pragma once

#include <cstdlib>

// The AVX2 copies are built with GCC's `#pragma GCC target` (not Clang's); elsewhere, and with
// -DCNSR_NO_AVX2_BUILD, only the baseline build exists.
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__)) && \
    !defined(CNSR_NO_AVX2_BUILD)
#define CNSR_HAVE_AVX2_LANES 1
#endif

namespace cnsr {

inline bool use_avx2_lanes() {
#ifdef CNSR_HAVE_AVX2_LANES
    static const bool yes = __builtin_cpu_supports("avx2") && std::getenv("CNSR_NO_AVX2") == nullptr;
    return yes;
#else
    return false;
#endif
}

/// "avx2" or "baseline": what use_avx2_lanes() chose.
inline const char* lanes_isa() { return use_avx2_lanes() ? "avx2" : "baseline"; }

}  // namespace cnsr
