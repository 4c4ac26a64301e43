// Run-time choice of the instruction set for the lane loops, which are compiled three times:
// for the x86-64 baseline (SSE2), for AVX2 and for AVX-512 (shading_lanes.inc, surface_lanes.inc,
// sphere_lanes.inc). The widest the CPU has is used, unless the environment variable
// CNSR_LANES (baseline, avx2 or avx512; read once) asks for a narrower one; CNSR_NO_AVX2 means
// baseline. All builds give the same bits (no FMA contraction, -ffp-contract=off; the same
// operations in the same order; tests/render/test_lanes.py).
#pragma once

#include <cstdlib>
#include <cstring>

// The AVX2 / AVX-512 copies are built with GCC's `#pragma GCC target` (not Clang's); elsewhere,
// and with -DCNSR_NO_WIDE_LANES, only the baseline build exists.
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__)) && \
    !defined(CNSR_NO_WIDE_LANES)
#define CNSR_HAVE_WIDE_LANES 1
// The code between CNSR_BEGIN_AVX2 / CNSR_BEGIN_AVX512 and CNSR_END_WIDE is built for that
// instruction set; include every header before, so that no wide copy of a shared inline
// function can be picked by the linker for the rest of the library. (FMA is in AVX-512F: the
// build's -ffp-contract=off keeps it from fusing, so results stay the baseline's.)
#define CNSR_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2\")")
#define CNSR_BEGIN_AVX512          \
    _Pragma("GCC push_options")    \
    _Pragma("GCC target(\"avx2,avx512f,avx512dq,avx512bw,avx512vl,avx512cd,prefer-vector-width=512\")")
#define CNSR_END_WIDE _Pragma("GCC pop_options")
#endif

// The lanes of a packet: paths traced in lockstep, whose rays go to Embree as one packet (16
// where the build machine has AVX-512, else 8; CMake's CNSR_PACKET_WIDTH).
#ifndef CNSR_PACKET_WIDTH
#define CNSR_PACKET_WIDTH 8
#endif
#if CNSR_PACKET_WIDTH != 8 && CNSR_PACKET_WIDTH != 16
#error "CNSR_PACKET_WIDTH must be 8 or 16"
#endif

// Functions called in lane loops are inlined into them (GCC then vectorises the loops).
#if defined(__GNUC__)
#define CNSR_LANE_INLINE inline __attribute__((always_inline))
#else
#define CNSR_LANE_INLINE inline
#endif

namespace cnsr {

constexpr int kPacketWidth = CNSR_PACKET_WIDTH;

enum class LaneIsa { Baseline = 0, Avx2 = 1, Avx512 = 2 };

inline LaneIsa lane_isa() {
#ifdef CNSR_HAVE_WIDE_LANES
    static const LaneIsa isa = [] {
        __builtin_cpu_init();
        const bool avx2 = __builtin_cpu_supports("avx2");
        const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                            __builtin_cpu_supports("avx512cd");
        LaneIsa best = avx512 ? LaneIsa::Avx512 : (avx2 ? LaneIsa::Avx2 : LaneIsa::Baseline);
        LaneIsa asked = best;
        if (const char* s = std::getenv("CNSR_LANES")) {
            if (std::strcmp(s, "baseline") == 0) asked = LaneIsa::Baseline;
            else if (std::strcmp(s, "avx2") == 0) asked = LaneIsa::Avx2;
        }
        if (std::getenv("CNSR_NO_AVX2") != nullptr) asked = LaneIsa::Baseline;
        return int(asked) < int(best) ? asked : best;
    }();
    return isa;
#else
    return LaneIsa::Baseline;
#endif
}

/// "avx512", "avx2" or "baseline": what lane_isa() chose.
inline const char* lanes_isa() {
    switch (lane_isa()) {
        case LaneIsa::Avx512: return "avx512";
        case LaneIsa::Avx2: return "avx2";
        default: return "baseline";
    }
}

}  // namespace cnsr

// CNSR_LANE_DISPATCH(ns_prefix, call): `call` in the namespace of the chosen build
// (<prefix>_baseline, <prefix>_avx2, <prefix>_avx512).
#ifdef CNSR_HAVE_WIDE_LANES
#define CNSR_LANE_DISPATCH(prefix, call)                                                   \
    (::cnsr::lane_isa() == ::cnsr::LaneIsa::Avx512 ? prefix##_avx512::call                   \
     : ::cnsr::lane_isa() == ::cnsr::LaneIsa::Avx2 ? prefix##_avx2::call                     \
                                                   : prefix##_baseline::call)
#else
#define CNSR_LANE_DISPATCH(prefix, call) (prefix##_baseline::call)
#endif
