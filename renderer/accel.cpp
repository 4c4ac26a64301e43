#include "accel.h"

#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

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

}  // namespace

// The sphere lane loops, for the x86-64 baseline and for AVX2 (simd.h).
namespace spheres_baseline {
#include "sphere_lanes.inc"
}  // namespace spheres_baseline
#ifdef CNSR_HAVE_AVX2_LANES
#pragma GCC push_options
#pragma GCC target("avx2")
namespace spheres_avx2 {
#include "sphere_lanes.inc"
}  // namespace spheres_avx2
#pragma GCC pop_options
#endif

RayCounter& thread_ray_counter() {
    thread_local RayCounter counter;
    return counter;
}

Accel::~Accel() {
    if (scene_all_) rtcReleaseScene(scene_all_);
    if (scene_noemit_) rtcReleaseScene(scene_noemit_);
}

void Accel::build(const std::vector<std::unique_ptr<Shape>>& shapes) {
    RTCDevice device = embree_device();
    g_embree_error.clear();
    scene_all_ = rtcNewScene(device);
    scene_noemit_ = rtcNewScene(device);
    for (RTCScene sc : {scene_all_, scene_noemit_}) {
        rtcSetSceneBuildQuality(sc, RTC_BUILD_QUALITY_LOW);
        rtcSetSceneFlags(sc, RTC_SCENE_FLAG_NONE);
    }
    for (size_t id = 0; id < shapes.size(); ++id) {
        const Shape& s = *shapes[id];
        RTCGeometry g;
        if (s.type == ShapeType::Sphere) {
            spheres_.cx.push_back(s.center.x);
            spheres_.cy.push_back(s.center.y);
            spheres_.cz.push_back(s.center.z);
            spheres_.r.push_back(s.radius);
            spheres_.shape.push_back(int(id));
            spheres_.mask.push_back(s.mask);
            spheres_.emitter.push_back(s.emitter_group ? 1 : 0);
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
            for (size_t i = 0; i < s.vertices.size(); ++i) {
                vb[3 * i] = s.vertices[i].x;
                vb[3 * i + 1] = s.vertices[i].y;
                vb[3 * i + 2] = s.vertices[i].z;
            }
            for (size_t i = 0; i < s.indices.size(); ++i) ib[i] = s.indices[i];
        }
        rtcSetGeometryMask(g, s.mask);
        rtcCommitGeometry(g);
        // The same geometry (and ID) goes into both scenes; emitters only into the full one.
        rtcAttachGeometryByID(scene_all_, g, unsigned(id));
        if (!s.emitter_group) rtcAttachGeometryByID(scene_noemit_, g, unsigned(id));
        rtcReleaseGeometry(g);
        throw_on_embree_error("building the scene");
    }
    rtcCommitScene(scene_all_);
    rtcCommitScene(scene_noemit_);
    throw_on_embree_error("building the acceleration structure");
}

PrimHit Accel::sphere_hit(const Ray& ray, int k, float t) const {
    PrimHit h;
    h.geom = unsigned(spheres_.shape[k]);
    h.t = t;
    h.ng = Vec3(ray.o.x + t * ray.d.x - spheres_.cx[k], ray.o.y + t * ray.d.y - spheres_.cy[k],
                ray.o.z + t * ray.d.z - spheres_.cz[k]);
    return h;
}

void Accel::intersect_spheres(int n, const int* valid, const float* ox, const float* oy, const float* oz,
                              const float* dx, const float* dy, const float* dz, const float* tnear, float* tfar,
                              int* sphere, bool with_emitters) const {
#ifdef CNSR_HAVE_AVX2_LANES
    if (use_avx2_lanes())
        return spheres_avx2::intersect_spheres(spheres_, n, valid, ox, oy, oz, dx, dy, dz, tnear, tfar, sphere,
                                               with_emitters);
#endif
    spheres_baseline::intersect_spheres(spheres_, n, valid, ox, oy, oz, dx, dy, dz, tnear, tfar, sphere, with_emitters);
}

int Accel::occlude_spheres(int n, int* valid, const float* ox, const float* oy, const float* oz, const float* dx,
                           const float* dy, const float* dz, const float* tnear, float* tfar, const uint32_t* mask,
                           bool with_emitters) const {
#ifdef CNSR_HAVE_AVX2_LANES
    if (use_avx2_lanes())
        return spheres_avx2::occlude_spheres(spheres_, n, valid, ox, oy, oz, dx, dy, dz, tnear, tfar, mask,
                                             with_emitters);
#endif
    return spheres_baseline::occlude_spheres(spheres_, n, valid, ox, oy, oz, dx, dy, dz, tnear, tfar, mask,
                                             with_emitters);
}

void Accel::intersect_packet(const Ray* rays, const bool* active, bool with_emitters, PrimHit* hits,
                             bool* found, bool coherent) const {
    alignas(64) int valid[kPacket];
    alignas(64) RTCRayHitPacket rh;
    int n = 0;
    for (int i = 0; i < kPacket; ++i) {
        found[i] = false;
        valid[i] = active[i] ? -1 : 0;
        if (!active[i]) continue;
        ++n;
        const Ray& r = rays[i];
        rh.ray.org_x[i] = r.o.x;
        rh.ray.org_y[i] = r.o.y;
        rh.ray.org_z[i] = r.o.z;
        rh.ray.dir_x[i] = r.d.x;
        rh.ray.dir_y[i] = r.d.y;
        rh.ray.dir_z[i] = r.d.z;
        rh.ray.tnear[i] = r.tnear;
        rh.ray.tfar[i] = r.tfar;
        rh.ray.time[i] = 0.f;
        rh.ray.mask[i] = 0xFFFFFFFFu;
        rh.ray.id[i] = unsigned(i);
        rh.ray.flags[i] = 0;
        rh.hit.geomID[i] = RTC_INVALID_GEOMETRY_ID;
        rh.hit.primID[i] = RTC_INVALID_GEOMETRY_ID;
        rh.hit.instID[0][i] = RTC_INVALID_GEOMETRY_ID;
    }
    if (n == 0) return;
    thread_ray_counter().intersect += uint64_t(n);
    int sphere[kPacket];
    for (int i = 0; i < kPacket; ++i) sphere[i] = -1;
    intersect_spheres(kPacket, valid, rh.ray.org_x, rh.ray.org_y, rh.ray.org_z, rh.ray.dir_x, rh.ray.dir_y,
                      rh.ray.dir_z, rh.ray.tnear, rh.ray.tfar, sphere, with_emitters);
    embree_intersect_packet(valid, with_emitters ? scene_all_ : scene_noemit_, &rh, coherent);
    for (int i = 0; i < kPacket; ++i) {
        if (!active[i]) continue;
        if (rh.hit.geomID[i] != RTC_INVALID_GEOMETRY_ID) {
            found[i] = true;
            PrimHit& h = hits[i];
            h.geom = rh.hit.geomID[i];
            h.prim = rh.hit.primID[i];
            h.u = rh.hit.u[i];
            h.v = rh.hit.v[i];
            h.t = rh.ray.tfar[i];
            h.ng = Vec3(rh.hit.Ng_x[i], rh.hit.Ng_y[i], rh.hit.Ng_z[i]);
        } else if (sphere[i] >= 0) {
            found[i] = true;
            hits[i] = sphere_hit(rays[i], sphere[i], rh.ray.tfar[i]);
        }
    }
}

namespace {

// Lane i of an occlusion packet: the segment o + t d, t in [0, tfar], against the geometry in `mask`.
void set_shadow_lane(RTCRayPacket& r, int i, const Vec3& o, const Vec3& d, float tfar, uint32_t mask) {
    r.org_x[i] = o.x;
    r.org_y[i] = o.y;
    r.org_z[i] = o.z;
    r.dir_x[i] = d.x;
    r.dir_y[i] = d.y;
    r.dir_z[i] = d.z;
    r.tnear[i] = 0.f;
    r.tfar[i] = tfar;
    r.time[i] = 0.f;
    r.mask[i] = mask;
    r.id[i] = unsigned(i);
    r.flags[i] = 0;
}

}  // namespace

void Accel::trace_occlusion_packet(int* valid, int n, RTCRayPacket& r, bool with_emitters, bool* occluded) const {
    if (n == 0) return;
    thread_ray_counter().occluded += uint64_t(n);
    bool traced[kPacket];
    for (int i = 0; i < kPacket; ++i) traced[i] = valid[i] != 0;
    // spheres first (analytic); Embree only for the lanes they left open
    if (occlude_spheres(kPacket, valid, r.org_x, r.org_y, r.org_z, r.dir_x, r.dir_y, r.dir_z, r.tnear, r.tfar,
                        r.mask, with_emitters) > 0)
        embree_occluded_packet(valid, with_emitters ? scene_all_ : scene_noemit_, &r);
    for (int i = 0; i < kPacket; ++i)
        if (traced[i]) occluded[i] = r.tfar[i] < 0.f;
}

void Accel::occluded_packet(const Vec3* o, const Vec3* d, const float* tfar, const uint32_t* mask, const bool* active,
                            bool with_emitters, bool* occluded) const {
    alignas(64) int valid[kPacket];
    alignas(64) RTCRayPacket r;
    int n = 0;
    for (int i = 0; i < kPacket; ++i) {
        occluded[i] = false;
        valid[i] = active[i] ? -1 : 0;
        if (!active[i]) continue;
        ++n;
        set_shadow_lane(r, i, o[i], d[i], tfar[i], mask ? mask[i] : 0xFFFFFFFFu);
    }
    trace_occlusion_packet(valid, n, r, with_emitters, occluded);
}

void Accel::occluded_lanes(const ShadowRays& rays, bool with_emitters, bool* occluded) const {
    alignas(64) int valid[kPacket];
    alignas(64) RTCRayPacket r;
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
        r.mask[i] = rays.mask[i];
        r.id[i] = unsigned(i);
        r.flags[i] = 0;
    }
    trace_occlusion_packet(valid, n, r, with_emitters, occluded);
}

}  // namespace cnsr
