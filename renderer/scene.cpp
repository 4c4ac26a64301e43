#include "scene.h"

#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>

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

// ---- analytic spheres, intersected outside Embree ----

inline float wrap01(float x) { return x - std::floor(x); }

}  // namespace

RayCounter& thread_ray_counter() {
    thread_local RayCounter counter;
    return counter;
}

// ---- Texture ----

float Texture::lookup(float u, float v) const {
    if (width <= 0 || height <= 0) return 1.f;
    // texel centres at (i + 0.5) / width; v = 1 is the top row
    float x = wrap01(u) * width - 0.5f;
    float y = (1.f - wrap01(v)) * height - 0.5f;
    float fx = std::floor(x), fy = std::floor(y);
    float ax = x - fx, ay = y - fy;
    int x0 = int(fx), y0 = int(fy);
    auto wrap = [](int i, int n) { i %= n; return i < 0 ? i + n : i; };
    int x1 = wrap(x0 + 1, width), y1 = wrap(y0 + 1, height);
    x0 = wrap(x0, width);
    y0 = wrap(y0, height);
    float t00 = texels[size_t(y0) * width + x0], t10 = texels[size_t(y0) * width + x1];
    float t01 = texels[size_t(y1) * width + x0], t11 = texels[size_t(y1) * width + x1];
    return (1.f - ay) * ((1.f - ax) * t00 + ax * t10) + ay * ((1.f - ax) * t01 + ax * t11);
}

// ---- Shape ----

float Shape::area() const {
    switch (type) {
        case ShapeType::Sphere:
            return 4.f * kPi * radius * radius;
        case ShapeType::Quad:
            return length(cross(e1, e2));
        case ShapeType::Mesh: {
            double a = 0.0;
            for (size_t i = 0; i + 2 < indices.size(); i += 3) {
                const Vec3& v0 = vertices[indices[i]];
                a += 0.5 * length(cross(vertices[indices[i + 1]] - v0, vertices[indices[i + 2]] - v0));
            }
            return float(a);
        }
    }
    return 0.f;
}

// ---- Scene ----

Scene::Scene() = default;

Scene::~Scene() {
    if (scene_all_) rtcReleaseScene(scene_all_);
    if (scene_noemit_) rtcReleaseScene(scene_noemit_);
}

void Scene::check_material(int material) const {
    if (committed_) throw std::runtime_error("scene is already committed");
    if (material < 0 || material >= int(materials_.size()))
        throw std::out_of_range("material index " + std::to_string(material) + " out of range");
}

int Scene::add_material(const Material& m) {
    if (committed_) throw std::runtime_error("scene is already committed");
    if (m.texture >= int(textures_.size())) throw std::out_of_range("texture index out of range");
    materials_.push_back(m);
    return int(materials_.size()) - 1;
}

int Scene::add_texture(int width, int height, std::vector<float> texels) {
    if (committed_) throw std::runtime_error("scene is already committed");
    if (width <= 0 || height <= 0 || texels.size() != size_t(width) * size_t(height))
        throw std::invalid_argument("texture size does not match its data");
    textures_.push_back(Texture{width, height, std::move(texels)});
    return int(textures_.size()) - 1;
}

int Scene::add_mesh(std::vector<Vec3> vertices, std::vector<uint32_t> indices, std::vector<Vec3> normals,
                    std::vector<float> uvs, int material, bool emitter_group) {
    check_material(material);
    if (indices.size() % 3 != 0) throw std::invalid_argument("mesh indices must come in triangles");
    for (uint32_t i : indices)
        if (i >= vertices.size()) throw std::out_of_range("mesh index out of range");
    if (!normals.empty() && normals.size() != vertices.size())
        throw std::invalid_argument("mesh normals must be given per vertex");
    if (!uvs.empty() && uvs.size() != 2 * vertices.size())
        throw std::invalid_argument("mesh uvs must be given per vertex");
    for (const Vec3& v : vertices)
        if (!is_finite(v)) throw std::invalid_argument("mesh vertex is not finite");
    for (Vec3& n : normals) {
        n = normalize(n);
        if (!is_finite(n)) n = Vec3(0.f);
    }
    auto s = std::make_unique<Shape>();
    s->type = ShapeType::Mesh;
    s->material = material;
    s->emitter_group = emitter_group || materials_[material].is_emissive();
    s->vertices = std::move(vertices);
    s->indices = std::move(indices);
    s->normals = std::move(normals);
    s->uvs = std::move(uvs);
    shapes_.push_back(std::move(s));
    return int(shapes_.size()) - 1;
}

int Scene::add_sphere(const Vec3& center, float radius, int material, bool emitter_group) {
    check_material(material);
    if (!is_finite(center) || !(radius > 0.f) || !std::isfinite(radius))
        throw std::invalid_argument("sphere needs a finite centre and a positive radius");
    auto s = std::make_unique<Shape>();
    s->type = ShapeType::Sphere;
    s->material = material;
    s->emitter_group = emitter_group || materials_[material].is_emissive();
    s->center = center;
    s->radius = radius;
    shapes_.push_back(std::move(s));
    return int(shapes_.size()) - 1;
}

int Scene::add_quad(const Vec3& corner, const Vec3& e1, const Vec3& e2, const Vec3& normal, int material,
                    bool emitter_group) {
    check_material(material);
    if (!is_finite(corner) || !is_finite(e1) || !is_finite(e2) || !is_finite(normal))
        throw std::invalid_argument("quad has non-finite coordinates");
    if (!(length(cross(e1, e2)) > 0.f)) throw std::invalid_argument("quad has zero area");
    auto s = std::make_unique<Shape>();
    s->type = ShapeType::Quad;
    s->material = material;
    s->emitter_group = emitter_group || materials_[material].is_emissive();
    s->corner = corner;
    s->e1 = e1;
    s->e2 = e2;
    s->normal = normalize(normal);
    s->vertices = {corner, corner + e1, corner + e1 + e2, corner + e2};
    s->indices = {0, 1, 2, 0, 2, 3};
    shapes_.push_back(std::move(s));
    return int(shapes_.size()) - 1;
}

void Scene::commit() {
    if (committed_) return;
    RTCDevice device = embree_device();
    g_embree_error.clear();
    // lights: every emissive sphere or quad is sampled by next-event estimation
    for (auto& sp : shapes_) {
        Shape& s = *sp;
        const Material& m = materials_[s.material];
        if (!m.is_emissive()) continue;
        float area = s.area();
        s.radiance = area > 0.f ? m.emission / area : Vec3(0.f);
        if (s.type == ShapeType::Mesh) continue;  // emissive meshes are hit, not sampled
        Light l;
        l.radiance = s.radiance;
        if (s.type == ShapeType::Sphere) {
            l.type = LightType::Sphere;
            l.center = s.center;
            l.radius = s.radius;
        } else {
            l.type = LightType::Quad;
            l.corner = s.corner;
            l.e1 = s.e1;
            l.e2 = s.e2;
            l.normal = s.normal;
        }
        l.area = area;
        s.light = int(lights_.size());
        s.mask = light_mask_bit(s.light);
        lights_.push_back(l);
    }

    scene_all_ = rtcNewScene(device);
    scene_noemit_ = rtcNewScene(device);
    for (RTCScene sc : {scene_all_, scene_noemit_}) {
        rtcSetSceneBuildQuality(sc, RTC_BUILD_QUALITY_LOW);
        rtcSetSceneFlags(sc, RTC_SCENE_FLAG_NONE);
    }
    for (size_t id = 0; id < shapes_.size(); ++id) {
        Shape& s = *shapes_[id];
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
    committed_ = true;
}

bool Scene::intersect(const Ray& ray, bool with_emitters, SurfaceHit* hit) const {
    RTCRayHit rh;
    rh.ray.org_x = ray.o.x;
    rh.ray.org_y = ray.o.y;
    rh.ray.org_z = ray.o.z;
    rh.ray.dir_x = ray.d.x;
    rh.ray.dir_y = ray.d.y;
    rh.ray.dir_z = ray.d.z;
    rh.ray.tnear = ray.tnear;
    rh.ray.tfar = ray.tfar;
    rh.ray.time = 0.f;
    rh.ray.mask = 0xFFFFFFFFu;
    rh.ray.id = 0;
    rh.ray.flags = 0;
    rh.hit.geomID = RTC_INVALID_GEOMETRY_ID;
    rh.hit.primID = RTC_INVALID_GEOMETRY_ID;
    rh.hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
    ++thread_ray_counter().intersect;
    const int valid = -1;
    int sphere = -1;
    intersect_spheres(1, &valid, &rh.ray.org_x, &rh.ray.org_y, &rh.ray.org_z, &rh.ray.dir_x, &rh.ray.dir_y,
                      &rh.ray.dir_z, &rh.ray.tnear, &rh.ray.tfar, &sphere, with_emitters);
    embree_intersect(with_emitters ? scene_all_ : scene_noemit_, &rh);
    if (rh.hit.geomID != RTC_INVALID_GEOMETRY_ID) {
        fill_hit(ray, rh.hit.geomID, rh.hit.primID, rh.hit.u, rh.hit.v, Vec3(rh.hit.Ng_x, rh.hit.Ng_y, rh.hit.Ng_z),
                 rh.ray.tfar, hit);
        return true;
    }
    if (sphere < 0) return false;
    fill_sphere_hit(ray, sphere, rh.ray.tfar, hit);
    return true;
}

void Scene::fill_sphere_hit(const Ray& ray, int k, float t, SurfaceHit* hit) const {
    const Vec3 ng(ray.o.x + t * ray.d.x - spheres_.cx[k], ray.o.y + t * ray.d.y - spheres_.cy[k],
                  ray.o.z + t * ray.d.z - spheres_.cz[k]);
    fill_hit(ray, unsigned(spheres_.shape[k]), 0, 0.f, 0.f, ng, t, hit);
}

// Roots t0 <= t1 of |f + t d| = r for f = origin - centre (the numerically stable form: the
// discriminant from the closest-approach point, q = b + sign(b) sqrt(a disc)); false when the
// line misses the sphere. Branch-free so that the lane loops below vectorise.
static inline bool sphere_roots(float fx, float fy, float fz, float dx, float dy, float dz, float r, float* t0,
                                float* t1) {
    const float a = dx * dx + dy * dy + dz * dz;
    const float b = -(fx * dx + fy * dy + fz * dz);
    const float ba = b / a;
    const float lx = fx + ba * dx, ly = fy + ba * dy, lz = fz + ba * dz;
    const float disc = r * r - (lx * lx + ly * ly + lz * lz);
    const float c = fx * fx + fy * fy + fz * fz - r * r;
    const float q = b + std::copysign(std::sqrt(std::max(a * disc, 0.f)), b);
    const float ta = c / q, tb = q / a;
    *t0 = std::min(ta, tb);
    *t1 = std::max(ta, tb);
    return (disc >= 0.f) & (q != 0.f);
}

// Ray/sphere tests, branch-free over all lanes (the compiler vectorises them). Both roots of
// |o + t d - c|^2 = r^2 in the stable form of Haines et al., "Precision Improvements for
// Ray/Sphere Intersection" (Ray Tracing Gems, 2019): the discriminant is taken from the distance
// of the centre to the ray, which does not cancel for small, distant spheres. q == 0 gives
// t0 = t1 = 0 (or NaN here), which never passes since tnear >= 0.
void Scene::intersect_spheres(int n, const int* valid, const float* ox, const float* oy, const float* oz,
                              const float* dx, const float* dy, const float* dz, const float* tnear, float* tfar,
                              int* sphere, bool with_emitters) const {
    for (int k = 0; k < spheres_.size(); ++k) {
        if (!with_emitters && spheres_.emitter[k]) continue;
        const float cx = spheres_.cx[k], cy = spheres_.cy[k], cz = spheres_.cz[k], r = spheres_.r[k];
        for (int i = 0; i < n; ++i) {
            float t0, t1;
            const bool hit = sphere_roots(ox[i] - cx, oy[i] - cy, oz[i] - cz, dx[i], dy[i], dz[i], r, &t0, &t1);
            const float t = t0 > tnear[i] ? t0 : t1;
            const bool ok = (valid[i] != 0) & hit & (t > tnear[i]) & (t < tfar[i]);
            tfar[i] = ok ? t : tfar[i];
            sphere[i] = ok ? k : sphere[i];
        }
    }
}

int Scene::occlude_spheres(int n, int* valid, const float* ox, const float* oy, const float* oz, const float* dx,
                           const float* dy, const float* dz, const float* tnear, float* tfar, const uint32_t* mask,
                           bool with_emitters) const {
    int left = 0;
    for (int i = 0; i < n; ++i) left += valid[i] != 0;
    for (int k = 0; k < spheres_.size() && left > 0; ++k) {
        if (!with_emitters && spheres_.emitter[k]) continue;
        const float cx = spheres_.cx[k], cy = spheres_.cy[k], cz = spheres_.cz[k], r = spheres_.r[k];
        const uint32_t smask = spheres_.mask[k];
        left = 0;
        for (int i = 0; i < n; ++i) {
            float t0, t1;
            const bool hit = sphere_roots(ox[i] - cx, oy[i] - cy, oz[i] - cz, dx[i], dy[i], dz[i], r, &t0, &t1);
            const bool ok = (valid[i] != 0) & ((mask[i] & smask) != 0) & hit &
                            (((t0 > tnear[i]) & (t0 < tfar[i])) | ((t1 > tnear[i]) & (t1 < tfar[i])));
            tfar[i] = ok ? -std::numeric_limits<float>::infinity() : tfar[i];
            valid[i] = ok ? 0 : valid[i];
            left += valid[i] != 0;
        }
    }
    return left;
}

void Scene::intersect_packet(const Ray* rays, const bool* active, bool with_emitters, SurfaceHit* hits,
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
            fill_hit(rays[i], rh.hit.geomID[i], rh.hit.primID[i], rh.hit.u[i], rh.hit.v[i],
                     Vec3(rh.hit.Ng_x[i], rh.hit.Ng_y[i], rh.hit.Ng_z[i]), rh.ray.tfar[i], &hits[i]);
        } else if (sphere[i] >= 0) {
            found[i] = true;
            fill_sphere_hit(rays[i], sphere[i], rh.ray.tfar[i], &hits[i]);
        }
    }
}

void Scene::fill_hit(const Ray& ray, unsigned geom_id, unsigned prim_id, float bu, float bv, const Vec3& ng_embree,
                     float t, SurfaceHit* hit) const {
    const Shape& s = *shapes_[geom_id];
    hit->t = t;
    hit->shape = int(geom_id);
    switch (s.type) {
        case ShapeType::Mesh: {
            const uint32_t* tri = &s.indices[3 * size_t(prim_id)];
            const Vec3 &v0 = s.vertices[tri[0]], &v1 = s.vertices[tri[1]], &v2 = s.vertices[tri[2]];
            float b1 = bu, b2 = bv, b0 = 1.f - b1 - b2;
            hit->p = v0 * b0 + v1 * b1 + v2 * b2;
            hit->ng = normalize(cross(v1 - v0, v2 - v0));
            if (!s.normals.empty()) {
                Vec3 n = s.normals[tri[0]] * b0 + s.normals[tri[1]] * b1 + s.normals[tri[2]] * b2;
                float l2 = dot(n, n);
                hit->ns = l2 > 1e-12f ? n * (1.f / std::sqrt(l2)) : hit->ng;
            } else {
                hit->ns = hit->ng;
            }
            if (!s.uvs.empty()) {
                const float *t0 = &s.uvs[2 * tri[0]], *t1 = &s.uvs[2 * tri[1]], *t2 = &s.uvs[2 * tri[2]];
                hit->u = t0[0] * b0 + t1[0] * b1 + t2[0] * b2;
                hit->v = t0[1] * b0 + t1[1] * b1 + t2[1] * b2;
            } else {
                hit->u = b1;
                hit->v = b2;
            }
            break;
        }
        case ShapeType::Quad: {
            Vec3 p = ray.o + ray.d * t;
            Vec3 q = p - s.corner;
            hit->u = dot(q, s.e1) / dot(s.e1, s.e1);
            hit->v = dot(q, s.e2) / dot(s.e2, s.e2);
            // project onto the plane to remove the error of the ray parameter
            hit->p = s.corner + s.e1 * hit->u + s.e2 * hit->v;
            hit->ng = hit->ns = s.normal;
            break;
        }
        case ShapeType::Sphere: {
            Vec3 n = normalize(ng_embree);
            hit->p = s.center + n * s.radius;
            hit->ng = hit->ns = n;
            hit->u = hit->v = 0.f;  // spherical coordinates are computed by albedo() when a texture needs them
            break;
        }
    }
}

bool Scene::occluded(const Vec3& o, const Vec3& d, float tfar, bool with_emitters, uint32_t mask) const {
    RTCRay r;
    r.org_x = o.x;
    r.org_y = o.y;
    r.org_z = o.z;
    r.dir_x = d.x;
    r.dir_y = d.y;
    r.dir_z = d.z;
    r.tnear = 0.f;
    r.tfar = tfar;
    r.time = 0.f;
    r.mask = mask;
    r.id = 0;
    r.flags = 0;
    ++thread_ray_counter().occluded;
    int valid = -1;
    if (occlude_spheres(1, &valid, &r.org_x, &r.org_y, &r.org_z, &r.dir_x, &r.dir_y, &r.dir_z, &r.tnear, &r.tfar,
                        &r.mask, with_emitters) == 0)
        return true;
    embree_occluded(with_emitters ? scene_all_ : scene_noemit_, &r);
    return r.tfar < 0.f;
}

bool Scene::shadow_segment(const SurfaceHit& h, const Vec3& q, int light, Vec3* o, Vec3* d, float* tfar,
                           uint32_t* mask) const {
    *o = offset_ray_origin(h, q - h.p);
    Vec3 w = q - *o;
    float dist = length(w);
    if (!(dist > 0.f)) return false;
    *d = w / dist;
    *tfar = dist * (1.f - 1e-4f);
    // The target light cannot block its own sampled (visible) point: skip it where it has a bit.
    const uint32_t bit = light >= 0 ? light_mask_bit(light) : 1u;
    *mask = bit != 1u ? ~bit : 0xFFFFFFFFu;
    return true;
}

bool Scene::segment_occluded(const SurfaceHit& h, const Vec3& q, bool with_emitters, int light) const {
    Vec3 o, d;
    float tfar;
    uint32_t mask;
    if (!shadow_segment(h, q, light, &o, &d, &tfar, &mask)) return false;
    return occluded(o, d, tfar, with_emitters, mask);
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

void Scene::trace_occlusion_packet(int* valid, int n, RTCRayPacket& r, bool with_emitters, bool* occluded) const {
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

void Scene::occluded_packet(const Vec3* o, const Vec3* d, const float* tfar, const bool* active, bool with_emitters,
                            bool* occluded) const {
    alignas(64) int valid[kPacket];
    alignas(64) RTCRayPacket r;
    int n = 0;
    for (int i = 0; i < kPacket; ++i) {
        occluded[i] = false;
        valid[i] = active[i] ? -1 : 0;
        if (!active[i]) continue;
        ++n;
        set_shadow_lane(r, i, o[i], d[i], tfar[i], 0xFFFFFFFFu);
    }
    trace_occlusion_packet(valid, n, r, with_emitters, occluded);
}

void Scene::segments_occluded_packet(const SurfaceHit* from, const Vec3* q, const int* light, const bool* active,
                                     bool with_emitters, bool* occluded) const {
    alignas(64) int valid[kPacket];
    alignas(64) RTCRayPacket r;
    int n = 0;
    for (int i = 0; i < kPacket; ++i) {
        occluded[i] = false;
        valid[i] = 0;
        if (!active[i]) continue;
        Vec3 o, d;
        float tfar;
        uint32_t mask;
        if (!shadow_segment(from[i], q[i], light[i], &o, &d, &tfar, &mask)) continue;
        valid[i] = -1;
        ++n;
        set_shadow_lane(r, i, o, d, tfar, mask);
    }
    trace_occlusion_packet(valid, n, r, with_emitters, occluded);
}

Vec3 Scene::albedo(const Material& m, const SurfaceHit& h) const {
    if (m.texture < 0) return m.color;
    float u = h.u, v = h.v;
    if (shapes_[h.shape]->type == ShapeType::Sphere) {
        // longitude / colatitude about +Y, v = 1 at the top
        const Vec3& n = h.ng;
        u = 0.5f + std::atan2(n.z, n.x) * (0.5f * kInvPi);
        v = 1.f - std::acos(std::min(1.f, std::max(-1.f, n.y))) * kInvPi;
    }
    return m.color * textures_[m.texture].lookup(u * m.freq_u, v * m.freq_v);
}

}  // namespace cnsr

