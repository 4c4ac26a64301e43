#include "shapes.h"

#include <algorithm>
#include <cmath>

#include "simd.h"

namespace cnsr {

// The hit reconstruction lane loops, for the x86-64 baseline, AVX2 and AVX-512 (simd.h).
namespace surface_baseline {
#include "surface_lanes.inc"
}  // namespace surface_baseline
#ifdef CNSR_HAVE_WIDE_LANES
CNSR_BEGIN_AVX2
namespace surface_avx2 {
#include "surface_lanes.inc"
}  // namespace surface_avx2
CNSR_END_WIDE
CNSR_BEGIN_AVX512
namespace surface_avx512 {
#include "surface_lanes.inc"
}  // namespace surface_avx512
CNSR_END_WIDE
#endif

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

void ShapeTable::add(const Shape& s) {
    Vec3 a, b, c, n;
    Mesh m;
    switch (s.type) {
        case ShapeType::Mesh:
            m.vertices = &s.vertices[0].x;
            m.indices = s.indices.data();
            m.normals = s.normals.empty() ? nullptr : &s.normals[0].x;
            m.uvs = s.uvs.empty() ? nullptr : s.uvs.data();
            break;
        case ShapeType::Quad:
            a = s.corner, b = s.e1, c = s.e2, n = s.normal;
            break;
        case ShapeType::Sphere:
            a = s.center, b = Vec3(s.radius, 0.f, 0.f);
            break;
    }
    kind.push_back(s.type == ShapeType::Mesh ? 0.f : (s.type == ShapeType::Quad ? 1.f : 2.f));
    ax.push_back(a.x), ay.push_back(a.y), az.push_back(a.z);
    bx.push_back(b.x), by.push_back(b.y), bz.push_back(b.z);
    cx.push_back(c.x), cy.push_back(c.y), cz.push_back(c.z);
    nx.push_back(n.x), ny.push_back(n.y), nz.push_back(n.z);
    meshes.push_back(m);
}

void surface_hits(const ShapeTable& shapes, const RTCRayHitPacket& rh, HitLanes* out) {
    CNSR_LANE_DISPATCH(surface, surface_hits(shapes, rh, *out));
}

}  // namespace cnsr
