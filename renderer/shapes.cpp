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

namespace {
inline float wrap01(float x) { return x - std::floor(x); }
}  // namespace

float Texture::lookup(float u, float v) const {
    if (width <= 0 || height <= 0) return 1.f;
    // texel centres at (i + 0.5) / width; v = 1 is the top row
    float x = wrap01(u) * width - 0.5f;
    float y = (1.f - wrap01(v)) * height - 0.5f;
    float fx = std::floor(x), fy = std::floor(y);
    float ax = x - fx, ay = y - fy;
    // x in [-0.5, width - 0.5]: x0 in [-1, width - 1], x0 + 1 in [0, width]; repeat wrap
    int x0 = int(fx), y0 = int(fy);
    int x1 = x0 + 1 >= width ? x0 + 1 - width : x0 + 1, y1 = y0 + 1 >= height ? y0 + 1 - height : y0 + 1;
    x0 = x0 < 0 ? x0 + width : x0;
    y0 = y0 < 0 ? y0 + height : y0;
    float t00 = texels[size_t(y0) * width + x0], t10 = texels[size_t(y0) * width + x1];
    float t01 = texels[size_t(y1) * width + x0], t11 = texels[size_t(y1) * width + x1];
    return (1.f - ay) * ((1.f - ax) * t00 + ax * t10) + ay * ((1.f - ax) * t01 + ax * t11);
}

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
