#include "scene.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace cnsr {

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

void Scene::commit(int sphere_bvh_min) {
    if (committed_) return;
    // lights: every emissive sphere or quad is sampled by next-event estimation; this sets the
    // shapes' radiance and masks, which the acceleration structure reads
    lights_ = build_lights(shapes_, materials_);
    shape_table_ = ShapeTable();
    for (const auto& s : shapes_) shape_table_.add(*s);
    accel_.build(shapes_, sphere_bvh_min);
    committed_ = true;
}

}  // namespace cnsr
