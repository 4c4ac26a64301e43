// Embree 3 / Embree 4 compatibility: CNSR_EMBREE_VERSION is set by CMakeLists.txt.
#pragma once

#ifndef CNSR_EMBREE_VERSION
#define CNSR_EMBREE_VERSION 3
#endif

#include "simd.h"

#if CNSR_EMBREE_VERSION >= 4
#include <embree4/rtcore.h>
#else
#include <embree3/rtcore.h>
#endif

namespace cnsr {

// Ray packets: the integrator traces kPacketWidth paths in lockstep (simd.h).
#if CNSR_PACKET_WIDTH == 16
using RTCRayHitPacket = RTCRayHit16;
using RTCRayPacket = RTCRay16;
#define CNSR_RTC_INTERSECT_P rtcIntersect16
#define CNSR_RTC_OCCLUDED_P rtcOccluded16
#elif CNSR_PACKET_WIDTH == 8
using RTCRayHitPacket = RTCRayHit8;
using RTCRayPacket = RTCRay8;
#define CNSR_RTC_INTERSECT_P rtcIntersect8
#define CNSR_RTC_OCCLUDED_P rtcOccluded8
#else
#error "CNSR_PACKET_WIDTH must be 8 or 16"
#endif
static_assert(kPacketWidth == CNSR_PACKET_WIDTH, "simd.h and embree.h disagree on the packet width");

/// Closest hits of a packet of rays (valid[i] = -1 for active lanes, 0 otherwise).
inline void embree_intersect_packet(const int* valid, RTCScene scene, RTCRayHitPacket* rh, bool coherent = false) {
#if CNSR_EMBREE_VERSION >= 4
    RTCIntersectArguments args;
    rtcInitIntersectArguments(&args);
    args.flags = coherent ? RTC_RAY_QUERY_FLAG_COHERENT : RTC_RAY_QUERY_FLAG_INCOHERENT;
    CNSR_RTC_INTERSECT_P(valid, scene, rh, &args);
#else
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    ctx.flags = coherent ? RTC_INTERSECT_CONTEXT_FLAG_COHERENT : RTC_INTERSECT_CONTEXT_FLAG_INCOHERENT;
    CNSR_RTC_INTERSECT_P(valid, scene, &ctx, rh);
#endif
}

/// Any hits of a packet of rays; tfar becomes -inf where something was hit.
inline void embree_occluded_packet(const int* valid, RTCScene scene, RTCRayPacket* ray) {
#if CNSR_EMBREE_VERSION >= 4
    RTCOccludedArguments args;
    rtcInitOccludedArguments(&args);
    args.flags = RTC_RAY_QUERY_FLAG_INCOHERENT;
    CNSR_RTC_OCCLUDED_P(valid, scene, ray, &args);
#else
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    ctx.flags = RTC_INTERSECT_CONTEXT_FLAG_INCOHERENT;
    CNSR_RTC_OCCLUDED_P(valid, scene, &ctx, ray);
#endif
}

}  // namespace cnsr
