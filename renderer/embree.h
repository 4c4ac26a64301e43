// Embree 3 / Embree 4 compatibility: CNSR_EMBREE_VERSION is set by CMakeLists.txt.
#pragma once

#ifndef CNSR_EMBREE_VERSION
#define CNSR_EMBREE_VERSION 3
#endif

#if CNSR_EMBREE_VERSION >= 4
#include <embree4/rtcore.h>
#else
#include <embree3/rtcore.h>
#endif

namespace cnsr {

/// Closest hit of a single incoherent ray.
inline void embree_intersect(RTCScene scene, RTCRayHit* rh) {
#if CNSR_EMBREE_VERSION >= 4
    RTCIntersectArguments args;
    rtcInitIntersectArguments(&args);
    args.flags = RTC_RAY_QUERY_FLAG_INCOHERENT;
    rtcIntersect1(scene, rh, &args);
#else
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    ctx.flags = RTC_INTERSECT_CONTEXT_FLAG_INCOHERENT;
    rtcIntersect1(scene, &ctx, rh);
#endif
}

/// Any hit of a single ray; on return ray->tfar is -inf if something was hit.
inline void embree_occluded(RTCScene scene, RTCRay* ray) {
#if CNSR_EMBREE_VERSION >= 4
    RTCOccludedArguments args;
    rtcInitOccludedArguments(&args);
    args.flags = RTC_RAY_QUERY_FLAG_INCOHERENT;
    rtcOccluded1(scene, ray, &args);
#else
    RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    ctx.flags = RTC_INTERSECT_CONTEXT_FLAG_INCOHERENT;
    rtcOccluded1(scene, &ctx, ray);
#endif
}

}  // namespace cnsr
