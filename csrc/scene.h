// The scene: the container of materials, textures and shapes, built up by the add_* calls and
// immutable after commit(), which derives the lights (lights.h) and builds the acceleration
// structure (accel.h). Its closest-hit queries return the surface hits of ray packets (shapes.h).
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
    /// Scenes with at least sphere_bvh_min non-emitting spheres put them into the BVH.
    void commit(int sphere_bvh_min = Accel::kDefaultSphereBvhMin);
    bool committed() const { return committed_; }
    bool spheres_in_bvh() const { return accel_.spheres_in_bvh(); }

    static constexpr int kPacket = Accel::kPacket;
    /// Closest hits of the lanes with valid[i] != 0 of the packet `rh` (its ray part set: org,
    /// dir, tnear, tfar) as surface hits in `hits` (shape = -1 for the others and for misses);
    /// emitters are skipped when with_emitters is false. `coherent`: the rays are nearly
    /// parallel with nearby origins (camera rays of one pixel).
    void intersect(const int* valid, RayHitPacket& rh, bool with_emitters, HitLanes* hits,
                   bool coherent = false) const {
        accel_.intersect(valid, rh, with_emitters, coherent);
        surface_hits(shape_table_, rh, hits);
    }
    /// Is anything hit on (0, tfar) of the shadow rays with trace set (Accel::occluded)?
    void occluded(const ShadowRays& rays, bool with_emitters, bool* occluded) const {
        accel_.occluded(rays, with_emitters, occluded);
    }

    const Material& material(int i) const { return materials_[i]; }
    const Shape& shape(int i) const { return *shapes_[i]; }
    const Texture& texture(int i) const { return textures_[i]; }
    const std::vector<Light>& lights() const { return lights_; }
    int num_shapes() const { return int(shapes_.size()); }
    int num_materials() const { return int(materials_.size()); }
    int num_textures() const { return int(textures_.size()); }

private:
    void check_material(int material) const;
    std::vector<Material> materials_;
    std::vector<Texture> textures_;
    std::vector<std::unique_ptr<Shape>> shapes_;
    std::vector<Light> lights_;
    ShapeTable shape_table_;
    Accel accel_;
    bool committed_ = false;
};

}  // namespace cnsr
