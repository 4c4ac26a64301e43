// The scene: the container of materials, textures and shapes, built up by the add_* calls and
// immutable after commit(), which derives the lights (lights.h) and builds the acceleration
// structure (accel.h). Its queries return surface hits (shapes.h) for the integrator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "accel.h"
#include "camera.h"
#include "lights.h"
#include "material.h"
#include "shapes.h"
#include "vecmath.h"

namespace cnsr {

class Scene {
public:
    Scene() = default;
    Scene(const Scene&) = delete;
    Scene& operator=(const Scene&) = delete;

    /// The add_* calls throw std::invalid_argument / std::out_of_range on bad input (index out
    /// of range, non-finite coordinates, degenerate shapes) and std::runtime_error once committed.
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
    static constexpr int kPacket = Accel::kPacket;
    /// `coherent`: the rays are nearly parallel with nearby origins (camera rays of one pixel).
    void intersect_packet(const Ray* rays, const bool* active, bool with_emitters, SurfaceHit* hits,
                          bool* found, bool coherent = false) const;
    void occluded_packet(const Vec3* o, const Vec3* d, const float* tfar, const bool* active, bool with_emitters,
                         bool* occluded) const;
    void segments_occluded_packet(const SurfaceHit* from, const Vec3* q, const int* light, const bool* active,
                                  bool with_emitters, bool* occluded) const;
    /// Occlusion of structure-of-arrays shadow rays (Accel::occluded_lanes).
    void occluded_lanes(const float* ox, const float* oy, const float* oz, const float* dx, const float* dy,
                        const float* dz, const float* tfar, const uint32_t* mask, const int* active, bool with_emitters,
                        bool* occluded) const {
        accel_.occluded_lanes(ox, oy, oz, dx, dy, dz, tfar, mask, active, with_emitters, occluded);
    }

    const Material& material(int i) const { return materials_[i]; }
    const Shape& shape(int i) const { return *shapes_[i]; }
    const std::vector<Light>& lights() const { return lights_; }
    /// Material colour times max(texel) at the hit (spheres: longitude / colatitude about +Y).
    Vec3 albedo(const Material& m, const SurfaceHit& h) const;
    int num_shapes() const { return int(shapes_.size()); }
    int num_materials() const { return int(materials_.size()); }
    int num_textures() const { return int(textures_.size()); }

private:
    void check_material(int material) const;
    SurfaceHit surface_hit(const Ray& ray, const PrimHit& ph) const;
    /// Shadow-ray set-up shared by segment_occluded and its packet version; false when the
    /// segment is empty (nothing to trace, not occluded).
    bool shadow_segment(const SurfaceHit& h, const Vec3& q, int light, Vec3* o, Vec3* d, float* tfar,
                        uint32_t* mask) const;

    std::vector<Material> materials_;
    std::vector<Texture> textures_;
    std::vector<std::unique_ptr<Shape>> shapes_;
    std::vector<Light> lights_;
    Accel accel_;
    bool committed_ = false;
};

}  // namespace cnsr
