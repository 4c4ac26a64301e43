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
    int x0 = int(fx), y0 = int(fy);
    auto wrap = [](int i, int n) { i %= n; return i < 0 ? i + n : i; };
    int x1 = wrap(x0 + 1, width), y1 = wrap(y0 + 1, height);
    x0 = wrap(x0, width);
    y0 = wrap(y0, height);
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

ShapeRecord shape_record(const Shape& s) {
    ShapeRecord r;
    r.type = int(s.type);
    switch (s.type) {
        case ShapeType::Mesh:
            r.vertices = &s.vertices[0].x;
            r.indices = s.indices.data();
            r.normals = s.normals.empty() ? nullptr : &s.normals[0].x;
            r.uvs = s.uvs.empty() ? nullptr : s.uvs.data();
            break;
        case ShapeType::Quad:
            r.a = s.corner, r.b = s.e1, r.c = s.e2, r.normal = s.normal;
            break;
        case ShapeType::Sphere:
            r.a = s.center, r.b = Vec3(s.radius, 0.f, 0.f);
            break;
    }
    return r;
}

void surface_hits(const ShapeRecord* shapes, const RTCRayHitPacket& rh, HitLanes* out) {
    CNSR_LANE_DISPATCH(surface, surface_hits(shapes, rh, *out));
}

}  // namespace cnsr
