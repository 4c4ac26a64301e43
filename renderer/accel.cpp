#include "accel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "lanemath.h"
#include "lights.h"
#include "simd.h"

namespace cnsr {

namespace {

// ---- Embree device: one per process, errors reported through a thread-local message ----

thread_local std::string g_embree_error;

void embree_error_callback(void*, RTCError code, const char* str) {
    if (code == RTC_ERROR_NONE) return;
    g_embree_error = std::string("Embree error ") + std::to_string(int(code)) + ": " + (str ? str : "");
}

RTCDevice embree_device() {
    static std::once_flag once;
    static RTCDevice device = nullptr;
    std::call_once(once, [] {
        device = rtcNewDevice("verbose=0");
        if (device) rtcSetDeviceErrorFunction(device, embree_error_callback, nullptr);
    });
    if (!device) throw std::runtime_error("could not create the Embree device");
    return device;
}

void throw_on_embree_error(const char* what) {
    if (!g_embree_error.empty()) {
        std::string msg = std::string(what) + ": " + g_embree_error;
        g_embree_error.clear();
        throw std::runtime_error(msg);
    }
}

void sphere_bounds_callback(const RTCBoundsFunctionArguments* args) {
    const SphereSet& S = *static_cast<const SphereSet*>(args->geometryUserPtr);
    const unsigned k = args->primID;
    // padded by a relative 1e-5: the bounds must hold every point the ray/sphere test accepts
    const float r = S.r[k] * (1.f + 1e-5f) + 1e-7f * std::max(std::fabs(S.cx[k]), std::max(std::fabs(S.cy[k]), std::fabs(S.cz[k])));
    RTCBounds* b = args->bounds_o;
    b->lower_x = S.cx[k] - r, b->lower_y = S.cy[k] - r, b->lower_z = S.cz[k] - r;
    b->upper_x = S.cx[k] + r, b->upper_y = S.cy[k] + r, b->upper_z = S.cz[k] + r;
}

}  // namespace

// The sphere lane loops and callbacks, for the x86-64 baseline, AVX2 and AVX-512 (simd.h).
namespace spheres_baseline {
#include "sphere_lanes.inc"
}  // namespace spheres_baseline
#ifdef CNSR_HAVE_WIDE_LANES
CNSR_BEGIN_AVX2
namespace spheres_avx2 {
#include "sphere_lanes.inc"
}  // namespace spheres_avx2
CNSR_END_WIDE
CNSR_BEGIN_AVX512
namespace spheres_avx512 {
#include "sphere_lanes.inc"
}  // namespace spheres_avx512
CNSR_END_WIDE
#endif

RayCounter& thread_ray_counter() {
    thread_local RayCounter counter;
    return counter;
}

void SphereSet::add(const Shape& s, int shape_index) {
    cx.push_back(s.center.x);
    cy.push_back(s.center.y);
    cz.push_back(s.center.z);
    r.push_back(s.radius);
    shape.push_back(shape_index);
    mask.push_back(s.mask);
    emitter.push_back(s.emitter_group ? 1 : 0);
}

Accel::~Accel() {
    if (scene_) rtcReleaseScene(scene_);
}

void Accel::build(const std::vector<std::unique_ptr<Shape>>& shapes, int sphere_bvh_min) {
    RTCDevice device = embree_device();
    g_embree_error.clear();
    scene_ = rtcNewScene(device);
    // LOW: measured faster to build and to traverse than MEDIUM / HIGH on the benchmark's rooms
    rtcSetSceneBuildQuality(scene_, RTC_BUILD_QUALITY_LOW);
    rtcSetSceneFlags(scene_, RTC_SCENE_FLAG_NONE);
    int plain_spheres = 0;
    for (const auto& s : shapes) plain_spheres += s->type == ShapeType::Sphere && !s->emitter_group;
    const bool bvh = plain_spheres >= std::max(1, sphere_bvh_min);
    for (size_t id = 0; id < shapes.size(); ++id) {
        const Shape& s = *shapes[id];
        RTCGeometry g;
        if (s.type == ShapeType::Sphere) {
            (bvh && !s.emitter_group ? bvh_spheres_ : spheres_).add(s, int(id));
            continue;
        }
        if (s.type == ShapeType::Quad) {
            // one Embree quad (both triangles tested at once)
            g = rtcNewGeometry(device, RTC_GEOMETRY_TYPE_QUAD);
            float* vb = static_cast<float*>(
                rtcSetNewGeometryBuffer(g, RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3, 3 * sizeof(float), 4));
            unsigned* ib = static_cast<unsigned*>(
                rtcSetNewGeometryBuffer(g, RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT4, 4 * sizeof(unsigned), 1));
            if (!vb || !ib) {
                rtcReleaseGeometry(g);
                throw_on_embree_error("allocating geometry buffers");
                throw std::runtime_error("could not allocate geometry buffers");
            }
            for (int i = 0; i < 4; ++i) {
                vb[3 * i] = s.vertices[i].x;
                vb[3 * i + 1] = s.vertices[i].y;
                vb[3 * i + 2] = s.vertices[i].z;
                ib[i] = unsigned(i);
            }
        } else {
            g = rtcNewGeometry(device, RTC_GEOMETRY_TYPE_TRIANGLE);
            float* vb = static_cast<float*>(rtcSetNewGeometryBuffer(g, RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3,
                                                                    3 * sizeof(float), s.vertices.size()));
            unsigned* ib = static_cast<unsigned*>(rtcSetNewGeometryBuffer(
                g, RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3, 3 * sizeof(unsigned), s.indices.size() / 3));
            if (!vb || !ib) {
                rtcReleaseGeometry(g);
                throw_on_embree_error("allocating geometry buffers");
                throw std::runtime_error("could not allocate geometry buffers");
            }
            static_assert(sizeof(Vec3) == 3 * sizeof(float), "Vec3 must be three packed floats");
            std::memcpy(vb, s.vertices.data(), s.vertices.size() * sizeof(Vec3));
            std::memcpy(ib, s.indices.data(), s.indices.size() * sizeof(uint32_t));
        }
        rtcSetGeometryMask(g, s.mask);
        rtcCommitGeometry(g);
        rtcAttachGeometryByID(scene_, g, unsigned(id));
        rtcReleaseGeometry(g);
        throw_on_embree_error("building the scene");
    }
    if (bvh_spheres_.size() > 0) {
        RTCGeometry g = rtcNewGeometry(device, RTC_GEOMETRY_TYPE_USER);
        rtcSetGeometryUserPrimitiveCount(g, unsigned(bvh_spheres_.size()));
        rtcSetGeometryUserData(g, &bvh_spheres_);
        rtcSetGeometryBoundsFunction(g, sphere_bounds_callback, nullptr);
        rtcSetGeometryIntersectFunction(g, CNSR_LANE_DISPATCH(spheres, sphere_intersect_callback));
        rtcSetGeometryOccludedFunction(g, CNSR_LANE_DISPATCH(spheres, sphere_occluded_callback));
        uint32_t mask = 0;
        for (uint32_t m : bvh_spheres_.mask) mask |= m;
        rtcSetGeometryMask(g, mask);
        rtcCommitGeometry(g);
        sphere_geom_ = unsigned(shapes.size());  // no shape has this ID
        rtcAttachGeometryByID(scene_, g, sphere_geom_);
        rtcReleaseGeometry(g);
        throw_on_embree_error("building the scene");
    }
    rtcCommitScene(scene_);
    throw_on_embree_error("building the acceleration structure");
}

void Accel::intersect(const int* valid_in, RayHitPacket& rh, bool with_emitters, bool coherent) const {
    alignas(64) int valid[kPacket];
    alignas(64) int sphere[kPacket];
    const uint32_t mask = with_emitters ? ~0u : kMaskNonEmitter;
    int n = 0;
    for (int i = 0; i < kPacket; ++i) {
        valid[i] = valid_in[i] != 0 ? -1 : 0;
        n += valid_in[i] != 0;
        sphere[i] = -1;
        rh.ray.time[i] = 0.f;
        rh.ray.mask[i] = mask;
        rh.ray.id[i] = unsigned(i);
        rh.ray.flags[i] = 0;
        rh.hit.geomID[i] = RTC_INVALID_GEOMETRY_ID;
        rh.hit.instID[0][i] = RTC_INVALID_GEOMETRY_ID;
    }
    if (n == 0) return;
    thread_ray_counter().intersect += uint64_t(n);
    if (spheres_.size() > 0)
        CNSR_LANE_DISPATCH(spheres, intersect_spheres(spheres_, valid, rh.ray.org_x, rh.ray.org_y, rh.ray.org_z,
                                                      rh.ray.dir_x, rh.ray.dir_y, rh.ray.dir_z, rh.ray.tnear,
                                                      rh.ray.tfar, sphere, with_emitters));
    embree_intersect_packet(valid, scene_, &rh, coherent);
    for (int i = 0; i < kPacket; ++i) {
        if (!valid[i]) continue;
        const unsigned g = rh.hit.geomID[i];
        if (g == sphere_geom_ && g != RTC_INVALID_GEOMETRY_ID) {
            rh.hit.geomID[i] = unsigned(bvh_spheres_.shape[rh.hit.primID[i]]);
        } else if (g == RTC_INVALID_GEOMETRY_ID && sphere[i] >= 0) {
            rh.hit.geomID[i] = unsigned(spheres_.shape[sphere[i]]);
            rh.hit.primID[i] = 0;
            rh.hit.u[i] = rh.hit.v[i] = 0.f;
        }
    }
}

void Accel::occluded(const ShadowRays& rays, bool with_emitters, bool* occluded) const {
    alignas(64) int valid[kPacket];
    alignas(64) RTCRayPacket r;
    const uint32_t keep = with_emitters ? ~0u : kMaskNonEmitter;
    int n = 0;
    for (int i = 0; i < kPacket; ++i) {
        occluded[i] = false;
        valid[i] = rays.trace[i] != 0 ? -1 : 0;
        n += rays.trace[i] != 0;
        r.org_x[i] = rays.ox[i];
        r.org_y[i] = rays.oy[i];
        r.org_z[i] = rays.oz[i];
        r.dir_x[i] = rays.dx[i];
        r.dir_y[i] = rays.dy[i];
        r.dir_z[i] = rays.dz[i];
        r.tnear[i] = 0.f;
        r.tfar[i] = rays.tfar[i];
        r.time[i] = 0.f;
        r.mask[i] = rays.mask[i] & keep;
        r.id[i] = unsigned(i);
        r.flags[i] = 0;
    }
    if (n == 0) return;
    thread_ray_counter().occluded += uint64_t(n);
    bool traced[kPacket];
    for (int i = 0; i < kPacket; ++i) traced[i] = valid[i] != 0;
    // the analytic spheres first; Embree only for the lanes they left open
    const int left = spheres_.size() == 0 ? n
                     : CNSR_LANE_DISPATCH(spheres, occlude_spheres(spheres_, valid, r.org_x, r.org_y, r.org_z,
                                                                   r.dir_x, r.dir_y, r.dir_z, r.tnear, r.tfar, r.mask,
                                                                   with_emitters));
    if (left > 0) embree_occluded_packet(valid, scene_, &r);
    for (int i = 0; i < kPacket; ++i)
        if (traced[i]) occluded[i] = r.tfar[i] < 0.f;
}

}  // namespace cnsr
