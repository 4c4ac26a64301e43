// The scene: the container of materials, textures and shapes, built up by the add_* calls and
// immutable after commit(), which derives the lights (lights.h) and builds the acceleration
// structure (accel.h). Its closest-hit queries return surface hits (shapes.h).
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

    static constexpr int kPacket = Accel::kPacket;
    /// Closest hits of up to kPacket rays (inactive lanes are skipped and report no hit);
    /// emitters are skipped when with_emitters is false. `coherent`: the rays are nearly
    /// parallel with nearby origins (camera rays of one pixel).
    void intersect_packet(const Ray* rays, const bool* active, bool with_emitters, SurfaceHit* hits,
                          bool* found, bool coherent = false) const;
    /// Is anything hit on (0, tfar) from o along unit d, for up to kPacket rays?
    void occluded_packet(const Vec3* o, const Vec3* d, const float* tfar, const bool* active, bool with_emitters,
                         bool* occluded) const;
    /// The same for structure-of-arrays shadow rays (Accel::occluded_lanes).
    void occluded_lanes(const ShadowRays& rays, bool with_emitters, bool* occluded) const {
        accel_.occluded_lanes(rays, with_emitters, occluded);
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
    std::vector<Material> materials_;
    std::vector<Texture> textures_;
    std::vector<std::unique_ptr<Shape>> shapes_;
    std::vector<Light> lights_;
    Accel accel_;
    bool committed_ = false;
};

}  // namespace cnsr
