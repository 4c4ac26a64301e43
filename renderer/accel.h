// The acceleration structure and the ray queries: Embree BVHs over the meshes and quads (one
// with every shape, one without the emitter group), analytic spheres tested outside Embree in
// structure-of-arrays form, and packet queries of kPacketWidth lanes. Answers are primitive hit
// records; Scene turns them into surface hits.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "camera.h"
#include "embree.h"
#include "shapes.h"

namespace cnsr {

/// The closest hit of a ray: shape index, primitive (triangle or 0), Embree's barycentrics and
/// distance; `ng` is the unnormalised sphere normal (hit point minus centre) for spheres and
/// Embree's geometric normal otherwise.
struct PrimHit {
    unsigned geom = 0, prim = 0;
    float u = 0.f, v = 0.f, t = 0.f;
    Vec3 ng;
};

/// Rays traced by the calling thread since the last reset (closest-hit and shadow queries);
/// the integrator sums them over its workers for the benchmark's rays-per-second figure.
struct RayCounter {
    uint64_t intersect = 0, occluded = 0;
};
RayCounter& thread_ray_counter();

/// Analytic spheres, intersected outside Embree (a user geometry's callbacks cost more than
/// the few ray/sphere tests a scene needs), in structure-of-arrays form.
struct SphereSet {
    std::vector<float> cx, cy, cz, r;
    std::vector<int> shape;
    std::vector<uint32_t> mask;
    std::vector<uint8_t> emitter;  // in the emitter group (skipped when emitters are)
    int size() const { return int(r.size()); }
};

/// Shadow rays of a packet's lanes (structure of arrays): origin, unit direction, tfar, the
/// ray mask, and trace = -1 for the lanes to trace (0: skip).
struct ShadowRays {
    alignas(64) float ox[kPacketWidth], oy[kPacketWidth], oz[kPacketWidth];
    alignas(64) float dx[kPacketWidth], dy[kPacketWidth], dz[kPacketWidth];
    alignas(64) float tfar[kPacketWidth];
    alignas(64) uint32_t mask[kPacketWidth];
    alignas(64) int trace[kPacketWidth];
};

class Accel {
public:
    static constexpr int kPacket = kPacketWidth;

    Accel() = default;
    ~Accel();
    Accel(const Accel&) = delete;
    Accel& operator=(const Accel&) = delete;

    /// Builds the structures over `shapes` (shape i gets Embree geometry ID i; its `mask` and
    /// `emitter_group` must be final). Embree errors are thrown as std::runtime_error.
    void build(const std::vector<std::unique_ptr<Shape>>& shapes);

    /// Closest hits on (tnear, tfar) of up to kPacket rays (inactive lanes are skipped and report
    /// no hit); emitters are skipped when with_emitters is false. `coherent`: the rays are nearly
    /// parallel with nearby origins (camera rays of one pixel).
    void intersect_packet(const Ray* rays, const bool* active, bool with_emitters, PrimHit* hits, bool* found,
                          bool coherent = false) const;
    /// Is anything hit on (0, tfar) from o along unit d, for up to kPacket rays? Geometry whose
    /// mask shares no bit with the ray's `mask` (per lane, or nullptr for all bits) may be
    /// skipped (Embree ray masks; an optimisation only, never needed for correctness).
    void occluded_packet(const Vec3* o, const Vec3* d, const float* tfar, const uint32_t* mask, const bool* active,
                         bool with_emitters, bool* occluded) const;
    /// The same for structure-of-arrays rays (the lanes with trace set; the others report false).
    void occluded_lanes(const ShadowRays& rays, bool with_emitters, bool* occluded) const;

private:
    // Traces the `n` filled lanes (`valid`) of an occlusion packet; sets occluded[i] for them.
    void trace_occlusion_packet(int* valid, int n, RTCRayPacket& r, bool with_emitters, bool* occluded) const;
    /// Closest sphere hit of `n` rays (SoA; lanes with valid[i] == 0 skipped): where a sphere is
    /// hit in (tnear, tfar), tfar is shortened to it and sphere[i] set to its index.
    void intersect_spheres(int n, const int* valid, const float* ox, const float* oy, const float* oz,
                           const float* dx, const float* dy, const float* dz, const float* tnear, float* tfar,
                           int* sphere, bool with_emitters) const;
    /// Marks the rays blocked by a sphere on (tnear, tfar) whose mask shares a bit with the ray's: valid[i] = 0,
    /// tfar[i] = -inf. Returns the number of rays still valid.
    int occlude_spheres(int n, int* valid, const float* ox, const float* oy, const float* oz, const float* dx,
                        const float* dy, const float* dz, const float* tnear, float* tfar, const uint32_t* mask,
                        bool with_emitters) const;
    /// The record of a hit at distance t on sphere k of ray o + t d.
    PrimHit sphere_hit(const Ray& ray, int k, float t) const;

    SphereSet spheres_;
    RTCScene scene_all_ = nullptr;     // every shape
    RTCScene scene_noemit_ = nullptr;  // every shape but the emitters
};

}  // namespace cnsr
