#include "shapes.h"

#include <cmath>

namespace cnsr {

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

void fill_surface_hit(const Shape& s, int shape_id, const Ray& ray, unsigned prim_id, float bu, float bv,
                      const Vec3& ng_raw, float t, SurfaceHit* hit) {
    hit->t = t;
    hit->shape = shape_id;
    switch (s.type) {
        case ShapeType::Mesh: {
            const uint32_t* tri = &s.indices[3 * size_t(prim_id)];
            const Vec3 &v0 = s.vertices[tri[0]], &v1 = s.vertices[tri[1]], &v2 = s.vertices[tri[2]];
            float b1 = bu, b2 = bv, b0 = 1.f - b1 - b2;
            hit->p = v0 * b0 + v1 * b1 + v2 * b2;
            hit->ng = normalize(cross(v1 - v0, v2 - v0));
            if (!s.normals.empty()) {
                Vec3 n = s.normals[tri[0]] * b0 + s.normals[tri[1]] * b1 + s.normals[tri[2]] * b2;
                float l2 = dot(n, n);
                hit->ns = l2 > 1e-12f ? n * (1.f / std::sqrt(l2)) : hit->ng;
            } else {
                hit->ns = hit->ng;
            }
            if (!s.uvs.empty()) {
                const float *t0 = &s.uvs[2 * tri[0]], *t1 = &s.uvs[2 * tri[1]], *t2 = &s.uvs[2 * tri[2]];
                hit->u = t0[0] * b0 + t1[0] * b1 + t2[0] * b2;
                hit->v = t0[1] * b0 + t1[1] * b1 + t2[1] * b2;
            } else {
                hit->u = b1;
                hit->v = b2;
            }
            break;
        }
        case ShapeType::Quad: {
            Vec3 p = ray.o + ray.d * t;
            Vec3 q = p - s.corner;
            hit->u = dot(q, s.e1) / dot(s.e1, s.e1);
            hit->v = dot(q, s.e2) / dot(s.e2, s.e2);
            // project onto the plane to remove the error of the ray parameter
            hit->p = s.corner + s.e1 * hit->u + s.e2 * hit->v;
            hit->ng = hit->ns = s.normal;
            break;
        }
        case ShapeType::Sphere: {
            Vec3 n = normalize(ng_raw);
            hit->p = s.center + n * s.radius;
            hit->ng = hit->ns = n;
            hit->u = hit->v = 0.f;  // spherical coordinates are computed by albedo() when a texture needs them
            break;
        }
    }
}

}  // namespace cnsr
