// The scene: materials, textures, shapes (triangle meshes, analytic spheres, quads), the
// lights derived from emissive shapes, and the Embree acceleration structures.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "camera.h"
#include "embree.h"
#include "lights.h"
#include "material.h"
#include "vecmath.h"

namespace cnsr {

/// Single-channel texture (the reference uses only max(r, g, b) of a texel), row 0 = top,
/// repeat wrapping, bilinear filtering.
struct Texture {
    int width = 0, height = 0;
    std::vector<float> texels;
    float lookup(float u, float v) const;
};

enum class ShapeType { Mesh, Quad, Sphere };

/// Embree geometry mask of light i: lights 0..30 get a bit of their own so that a shadow ray can
/// skip the light it aims at; everything else has bit 0 and is never skipped.
inline uint32_t light_mask_bit(int i) { return i >= 0 && i < 31 ? (2u << i) : 1u; }

struct Shape {
    ShapeType type = ShapeType::Mesh;
    int material = 0;
    int light = -1;              // index into Scene::lights(), -1 if NEE does not sample it
    uint32_t mask = 1u;          // Embree geometry mask (light_mask_bit)
    bool emitter_group = false;  // hidden from camera rays / shadow pass when lights are hidden
    Vec3 radiance;               // emitted radiance (emission / area) when emissive
    // mesh
    std::vector<Vec3> vertices, normals;
    std::vector<float> uvs;  // 2 per vertex, or empty
    std::vector<uint32_t> indices;
    // quad: corner + s e1 + t e2, uv = (s, t)
    Vec3 corner, e1, e2, normal;
    // sphere
    Vec3 center;
    float radius = 0.f;

    float area() const;
};

/// What the integrator needs to know about a ray's closest hit.
struct SurfaceHit {
    float t = 0.f;
    Vec3 p;
    Vec3 ng;  // unit geometric normal (orientation arbitrary for meshes; used for ray offsets)
    Vec3 ns;  // unit shading normal (decides the front side)
    float u = 0.f, v = 0.f;  // texture coordinates
    int shape = -1;
};

class Scene {
public:
    Scene();
    ~Scene();
    Scene(const Scene&) = delete;
    Scene& operator=(const Scene&) = delete;

    int add_material(const Material& m);
    int add_texture(int width, int height, std::vector<float> texels);
    int add_mesh(std::vector<Vec3> vertices, std::vector<uint32_t> indices, std::vector<Vec3> normals,
                 std::vector<float> uvs, int material, bool emitter_group);
    int add_sphere(const Vec3& center, float radius, int material, bool emitter_group);
    int add_quad(const Vec3& corner, const Vec3& e1, const Vec3& e2, const Vec3& normal, int material,
                 bool emitter_group);
    /// Builds the lights and the acceleration structures; the scene is immutable afterwards.
    void commit();
    bool committed() const { return committed_; }

    /// Closest hit along the ray; emitters are skipped when with_emitters is false.
    bool intersect(const Ray& ray, bool with_emitters, SurfaceHit* hit) const;
    /// Is anything hit on (0, tfar) from o along unit d? Geometry whose mask shares no bit with
    /// `mask` may be skipped (Embree ray masks; an optimisation only, never needed for correctness).
    bool occluded(const Vec3& o, const Vec3& d, float tfar, bool with_emitters, uint32_t mask = 0xFFFFFFFFu) const;
    /// Is the segment from hit point h to a point q on a light blocked? The shadow ray starts at
    /// the offset origin and aims at q itself (not along the direction seen from h.p): near a
    /// sphere light's silhouette the distance along a fixed direction is ill-conditioned.
    /// `light` (or -1) is the light q lies on: it cannot block its own visible side, so it is masked out.
    bool segment_occluded(const SurfaceHit& h, const Vec3& q, bool with_emitters, int light = -1) const;

    /// Packet versions of intersect / segment_occluded for up to kPacket lanes (inactive lanes
    /// are skipped); results per lane are identical to the single-ray queries.
    static constexpr int kPacket = kPacketWidth;
    /// `coherent`: the rays are nearly parallel with nearby origins (camera rays of one pixel).
    void intersect_packet(const Ray* rays, const bool* active, bool with_emitters, SurfaceHit* hits,
                          bool* found, bool coherent = false) const;
    void occluded_packet(const Vec3* o, const Vec3* d, const float* tfar, const bool* active, bool with_emitters,
                         bool* occluded) const;
    void segments_occluded_packet(const SurfaceHit* from, const Vec3* q, const int* light, const bool* active,
                                  bool with_emitters, bool* occluded) const;

    const Material& material(int i) const { return materials_[i]; }
    const Shape& shape(int i) const { return *shapes_[i]; }
    const std::vector<Light>& lights() const { return lights_; }
    /// Material colour times max(texel) at the hit.
    Vec3 albedo(const Material& m, const SurfaceHit& h) const;
    int num_shapes() const { return int(shapes_.size()); }
    int num_materials() const { return int(materials_.size()); }
    int num_textures() const { return int(textures_.size()); }

private:
    // Traces the `n` filled lanes (`valid`) of an occlusion packet; sets occluded[i] for them.
    void trace_occlusion_packet(int* valid, int n, RTCRayPacket& r, bool with_emitters, bool* occluded) const;
    void check_material(int material) const;
    /// Fills `hit` from an Embree hit record of `ray`.
    void fill_hit(const Ray& ray, unsigned geom_id, unsigned prim_id, float u, float v, const Vec3& ng, float t,
                  SurfaceHit* hit) const;
    void fill_sphere_hit(const Ray& ray, int k, float t, SurfaceHit* hit) const;
    /// Shadow-ray set-up shared by segment_occluded and its packet version.
    bool shadow_segment(const SurfaceHit& h, const Vec3& q, int light, Vec3* o, Vec3* d, float* tfar,
                        uint32_t* mask) const;

    std::vector<Material> materials_;
    std::vector<Texture> textures_;
    std::vector<std::unique_ptr<Shape>> shapes_;
    std::vector<Light> lights_;
    /// Analytic spheres, intersected outside Embree (a user geometry's callbacks cost more than
    /// the few ray/sphere tests a scene needs), in structure-of-arrays form.
    struct Spheres {
        std::vector<float> cx, cy, cz, r;
        std::vector<int> shape;
        std::vector<uint32_t> mask;
        std::vector<uint8_t> emitter;  // in the emitter group (skipped when emitters are)
        int size() const { return int(r.size()); }
    } spheres_;
    /// Closest sphere hit of `n` rays (SoA; lanes with valid[i] == 0 skipped): where a sphere is
    /// hit in (tnear, tfar), tfar is shortened to it and sphere[i] set to its index.
    void intersect_spheres(int n, const int* valid, const float* ox, const float* oy, const float* oz,
                           const float* dx, const float* dy, const float* dz, const float* tnear, float* tfar,
                           int* sphere, bool with_emitters) const;
    /// Marks the rays blocked by a sphere on (tnear, tfar) whose mask shares a bit with the ray's: valid[i] = 0,
    /// tfar[i] = -inf. Returns the number of rays still valid.
    int occlude_spheres(int n, int* valid, const float* ox, const float* oy, const float* oz, const float* dx,
                        const float* dy, const float* dz, const float* tnear, float* tfar,
                        const uint32_t* mask, bool with_emitters) const;
    RTCScene scene_all_ = nullptr;     // every shape
    RTCScene scene_noemit_ = nullptr;  // every shape but the emitters
    bool committed_ = false;
};

/// Rays traced by the calling thread since the last reset (closest-hit and shadow queries);
/// the integrator sums them over its workers for the benchmark's rays-per-second figure.
struct RayCounter {
    uint64_t intersect = 0, occluded = 0;
};
RayCounter& thread_ray_counter();

/// Ray origin for leaving a hit point in direction w: offset along the geometric normal to the
/// side of w, so that the new ray does not re-hit the surface it starts on.
inline Vec3 offset_ray_origin(const SurfaceHit& h, const Vec3& w) {
    float eps = 2e-5f * (1.f + max_abs_component(h.p));
    return h.p + h.ng * (dot(h.ng, w) > 0.f ? eps : -eps);
}

}  // namespace cnsr
