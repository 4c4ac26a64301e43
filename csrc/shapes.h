// Shapes and textures: what the scene is made of (triangle meshes, analytic spheres and
// parallelogram quads), their areas, single-channel textures, and the reconstruction of the
// surface hits of a ray packet (position, normals, texture coordinates) from Embree's primitive
// hits, in lane loops (surface_lanes.inc).
#pragma once

#include <cstdint>
#include <vector>

#include "camera.h"
#include "embree.h"
#include "vecmath.h"

namespace cnsr {

/// Single-channel texture (the reference uses only max(r, g, b) of a texel), row 0 = top;
/// looked up bilinearly with repeat wrapping by the lane loops (shading_lanes.inc: textured_albedo).
struct Texture {
    int width = 0, height = 0;
    std::vector<float> texels;
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

/// The surface hits of a packet's lanes (structure of arrays).
struct HitLanes {
    alignas(64) float px[kPacketWidth], py[kPacketWidth], pz[kPacketWidth];  // point
    // unit geometric normal (orientation arbitrary for meshes; used for ray offsets)
    alignas(64) float gx[kPacketWidth], gy[kPacketWidth], gz[kPacketWidth];
    // unit shading normal (decides the front side)
    alignas(64) float nx[kPacketWidth], ny[kPacketWidth], nz[kPacketWidth];
    alignas(64) float tu[kPacketWidth], tv[kPacketWidth];  // texture coordinates
    alignas(64) float t[kPacketWidth];                     // distance along the ray
    alignas(64) int shape[kPacketWidth];                   // the shape hit; -1: none
};

/// What hit reconstruction reads of a scene's shapes: per shape, its kind and the frame of a
/// quad or the centre and radius of a sphere as tables (gathered by the lane loops), and the
/// arrays of a mesh.
struct ShapeTable {
    std::vector<float> kind;  // 0 mesh, 1 quad, 2 sphere
    std::vector<float> ax, ay, az, bx, by, bz, cx, cy, cz;  // quad: corner, e1, e2; sphere: centre, (radius, 0, 0)
    std::vector<float> nx, ny, nz;  // quad: normal
    struct Mesh {
        const float* vertices = nullptr;  // xyz per vertex
        const uint32_t* indices = nullptr;
        const float* normals = nullptr;  // xyz per vertex, or nullptr
        const float* uvs = nullptr;      // uv per vertex, or nullptr
    };
    std::vector<Mesh> meshes;  // per shape (empty for quads and spheres)
    /// Appends shape s (whose arrays must outlive the table).
    void add(const Shape& s);
};

/// Fills `out` from the closest hits of the packet `rh` (after Accel::intersect; lanes with
/// hit.geomID = RTC_INVALID_GEOMETRY_ID get shape = -1): meshes interpolate normals and uvs
/// (else the geometric normal and the barycentrics), quads project the hit onto their plane,
/// spheres put the point on the surface and leave u = v = 0 (their textures use the normal).
void surface_hits(const ShapeTable& shapes, const RTCRayHitPacket& rh, HitLanes* out);

/// Ray origin for leaving hit point p (unit geometric normal ng) in direction w: offset along
/// ng to the side of w, so that the new ray does not re-hit the surface it starts on.
inline Vec3 offset_ray_origin(const Vec3& p, const Vec3& ng, const Vec3& w) {
    float eps = 2e-5f * (1.f + max_abs_component(p));
    return p + ng * (dot(ng, w) > 0.f ? eps : -eps);
}

}  // namespace cnsr
