// Shapes and textures: what the scene is made of (triangle meshes, analytic spheres and
// parallelogram quads), their areas, single-channel textures, and the reconstruction of a
// surface hit (position, normals, texture coordinates) from a primitive hit record.
#pragma once

#include <cstdint>
#include <vector>

#include "camera.h"
#include "vecmath.h"

namespace cnsr {

/// Single-channel texture (the reference uses only max(r, g, b) of a texel), row 0 = top,
/// repeat wrapping, bilinear filtering.
struct Texture {
    int width = 0, height = 0;
    std::vector<float> texels;
    /// Bilinear lookup at (u, v), both wrapped to [0, 1); v = 1 is the top row. 1 for an empty texture.
    float lookup(float u, float v) const;
};

enum class ShapeType { Mesh, Quad, Sphere };

struct Shape {
    ShapeType type = ShapeType::Mesh;
    int material = 0;
    int light = -1;              // index into Scene::lights(), -1 if NEE does not sample it
    uint32_t mask = 1u;          // Embree geometry mask (light_mask_bit in lights.h)
    bool emitter_group = false;  // hidden from camera rays / shadow pass when lights are hidden
    Vec3 radiance;               // emitted radiance (emission / area) when emissive
    // mesh (a quad also keeps its 4 corners and 2 triangles here)
    std::vector<Vec3> vertices, normals;
    std::vector<float> uvs;  // 2 per vertex, or empty
    std::vector<uint32_t> indices;
    // quad: corner + s e1 + t e2, uv = (s, t)
    Vec3 corner, e1, e2, normal;
    // sphere
    Vec3 center;
    float radius = 0.f;

    /// Surface area (one side); a mesh's is summed in double precision.
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

/// Fills `hit` for a hit of `ray` at distance t on primitive `prim` of shape `s` (index
/// `shape_id`): (bu, bv) are the barycentrics of a triangle, `ng` the unnormalised geometric
/// normal for a sphere (hit point minus centre; ignored otherwise). Meshes interpolate normals
/// and uvs (else the geometric normal and the barycentrics), quads project the hit onto their
/// plane, spheres put the point on the surface and leave u = v = 0 (see Scene::albedo).
void fill_surface_hit(const Shape& s, int shape_id, const Ray& ray, unsigned prim, float bu, float bv,
                      const Vec3& ng, float t, SurfaceHit* hit);

/// Ray origin for leaving a hit point in direction w: offset along the geometric normal to the
/// side of w, so that the new ray does not re-hit the surface it starts on.
inline Vec3 offset_ray_origin(const SurfaceHit& h, const Vec3& w) {
    float eps = 2e-5f * (1.f + max_abs_component(h.p));
    return h.p + h.ng * (dot(h.ng, w) > 0.f ? eps : -eps);
}

}  // namespace cnsr
