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

/// What the queries' lane loops read of an Accel.
struct AccelData {
    const SphereSet& spheres;
    const SphereSet& bvh_spheres;
    unsigned sphere_geom;
    RTCScene scene;
};

// The queries' lane loops and the sphere callbacks, for the x86-64 baseline, AVX2 and AVX-512 (simd.h).
namespace queries_baseline {
#include "accel_lanes.inc"
}  // namespace queries_baseline
#ifdef CNSR_HAVE_WIDE_LANES
CNSR_BEGIN_AVX2
namespace queries_avx2 {
#include "accel_lanes.inc"
}  // namespace queries_avx2
CNSR_END_WIDE
CNSR_BEGIN_AVX512
namespace queries_avx512 {
#include "accel_lanes.inc"
}  // namespace queries_avx512
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
    if (scene_noemit_) rtcReleaseScene(scene_noemit_);
}

void Accel::build(const std::vector<std::unique_ptr<Shape>>& shapes, int sphere_bvh_min) {
    RTCDevice device = embree_device();
    g_embree_error.clear();
    scene_ = rtcNewScene(device);
    // An Embree built without ray masks (EMBREE_RAY_MASK off) cannot skip the emitters by mask:
    // then a second scene without them serves the queries that skip them.
    static const bool masks = rtcGetDeviceProperty(device, RTC_DEVICE_PROPERTY_RAY_MASK_SUPPORTED) != 0;
    if (!masks) scene_noemit_ = rtcNewScene(device);
    for (RTCScene sc : {scene_, scene_noemit_}) {
        if (!sc) continue;
        // LOW: measured faster to build and to traverse than MEDIUM / HIGH on the benchmark's scenes
        rtcSetSceneBuildQuality(sc, RTC_BUILD_QUALITY_LOW);
        rtcSetSceneFlags(sc, RTC_SCENE_FLAG_NONE);
    }
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
        if (scene_noemit_ && !s.emitter_group) rtcAttachGeometryByID(scene_noemit_, g, unsigned(id));
        rtcReleaseGeometry(g);
        throw_on_embree_error("building the scene");
    }
    if (bvh_spheres_.size() > 0) {
        RTCGeometry g = rtcNewGeometry(device, RTC_GEOMETRY_TYPE_USER);
        rtcSetGeometryUserPrimitiveCount(g, unsigned(bvh_spheres_.size()));
        rtcSetGeometryUserData(g, &bvh_spheres_);
        rtcSetGeometryBoundsFunction(g, sphere_bounds_callback, nullptr);
        rtcSetGeometryIntersectFunction(g, CNSR_LANE_DISPATCH(queries, sphere_intersect_callback));
        rtcSetGeometryOccludedFunction(g, CNSR_LANE_DISPATCH(queries, sphere_occluded_callback));
        uint32_t mask = 0;
        for (uint32_t m : bvh_spheres_.mask) mask |= m;
        rtcSetGeometryMask(g, mask);
        rtcCommitGeometry(g);
        sphere_geom_ = unsigned(shapes.size());  // no shape has this ID
        rtcAttachGeometryByID(scene_, g, sphere_geom_);
        if (scene_noemit_) rtcAttachGeometryByID(scene_noemit_, g, sphere_geom_);  // (no emitters in it)
        rtcReleaseGeometry(g);
        throw_on_embree_error("building the scene");
    }
    rtcCommitScene(scene_);
    if (scene_noemit_) rtcCommitScene(scene_noemit_);
    throw_on_embree_error("building the acceleration structure");
}

void Accel::intersect(const int* valid, RayHitPacket& rh, bool with_emitters, bool coherent) const {
    const AccelData a{spheres_, bvh_spheres_, sphere_geom_, with_emitters || !scene_noemit_ ? scene_ : scene_noemit_};
    thread_ray_counter().intersect += uint64_t(
        CNSR_LANE_DISPATCH(queries, intersect_packet(a, valid, rh, with_emitters, coherent)));
}

void Accel::occluded(const ShadowRays& rays, bool with_emitters, bool* occluded) const {
    const AccelData a{spheres_, bvh_spheres_, sphere_geom_, with_emitters || !scene_noemit_ ? scene_ : scene_noemit_};
    thread_ray_counter().occluded += uint64_t(
        CNSR_LANE_DISPATCH(queries, occluded_packet(a, rays, with_emitters, occluded)));
}

}  // namespace cnsr
