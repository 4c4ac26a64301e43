// The acceleration structure and the ray queries, for packets of kPacketWidth rays in Embree's
// structure-of-arrays layout: one Embree BVH over the meshes and quads (geometry masks keep the
// emitters out of the queries that skip them, and let a shadow ray skip the light it aims at;
// an Embree without ray masks gets a second BVH without the emitters),
// and the spheres, tested analytically in lane loops while they are few; the non-emitting
// spheres of a scene with many go into the BVH as one user geometry that runs the same
// ray/sphere test. Answers are primitive hits; the shapes turn them into surface hits (shapes.h).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "embree.h"
#include "shapes.h"

namespace cnsr {

/// Embree's ray-and-hit packet of kPacketWidth lanes (structure of arrays).
using RayHitPacket = RTCRayHitPacket;

/// Shadow rays of a packet's lanes (structure of arrays): origin, unit direction, tfar, the
/// ray mask, and trace = -1 for the lanes to trace (0: skip).
struct ShadowRays {
    alignas(64) float ox[kPacketWidth], oy[kPacketWidth], oz[kPacketWidth];
    alignas(64) float dx[kPacketWidth], dy[kPacketWidth], dz[kPacketWidth];
    alignas(64) float tfar[kPacketWidth];
    alignas(64) uint32_t mask[kPacketWidth];
    alignas(64) int trace[kPacketWidth];
};

/// Rays traced by the calling thread since the last reset (closest-hit and shadow queries);
/// the integrator sums them over its workers for the benchmark's rays-per-second figure.
struct RayCounter {
    uint64_t intersect = 0, occluded = 0;
};
RayCounter& thread_ray_counter();

/// Spheres in structure-of-arrays form (the analytic ones, or those of the BVH's user geometry).
struct SphereSet {
    std::vector<float> cx, cy, cz, r;
    std::vector<int> shape;
    std::vector<uint32_t> mask;
    std::vector<uint8_t> emitter;  // in the emitter group (skipped when emitters are)
    int size() const { return int(r.size()); }
    void add(const Shape& s, int shape_index);
};

class Accel {
public:
    static constexpr int kPacket = kPacketWidth;
    /// Scenes with at least this many non-emitting spheres put them into the BVH (fewer are
    /// tested in lane loops, which is cheaper for a handful); both give the same hits
    /// (tests/render/test_lanes.py).
    static constexpr int kDefaultSphereBvhMin = 12;

    Accel() = default;
    ~Accel();
    Accel(const Accel&) = delete;
    Accel& operator=(const Accel&) = delete;

    /// Builds the structures over `shapes` (shape i gets Embree geometry ID i; its `mask` and
    /// `emitter_group` must be final). Embree errors are thrown as std::runtime_error.
    void build(const std::vector<std::unique_ptr<Shape>>& shapes, int sphere_bvh_min = kDefaultSphereBvhMin);

    /// Closest hits of the lanes with valid[i] != 0 of `rh`, whose ray part (org, dir, tnear,
    /// tfar) is set; emitters are skipped when with_emitters is false. Sets for those lanes
    /// rh.hit.geomID (the index of the shape hit, or RTC_INVALID_GEOMETRY_ID), primID (the
    /// triangle), u, v (its barycentrics) and rh.ray.tfar (the distance). `coherent`: the rays
    /// are nearly parallel with nearby origins (camera rays of one pixel).
    void intersect(const int* valid, RayHitPacket& rh, bool with_emitters, bool coherent = false) const;
    /// Is anything hit on (0, tfar) of the shadow rays with trace set (the others report false)?
    /// Geometry whose mask shares no bit with a ray's may be skipped (how a shadow ray skips the
    /// light it aims at).
    void occluded(const ShadowRays& rays, bool with_emitters, bool* occluded) const;

    /// Are the spheres' non-emitters in the BVH (else all are tested in lane loops)?
    bool spheres_in_bvh() const { return bvh_spheres_.size() > 0; }

private:
    SphereSet spheres_;       // tested analytically
    SphereSet bvh_spheres_;   // the BVH's user geometry
    unsigned sphere_geom_ = RTC_INVALID_GEOMETRY_ID;  // its Embree geometry ID
    RTCScene scene_ = nullptr;
    RTCScene scene_noemit_ = nullptr;  // without the emitters: only where Embree has no ray masks
};

}  // namespace cnsr
