// Small 3-vector and orthonormal-frame types used throughout the renderer.
#pragma once

#include <algorithm>
#include <cmath>

namespace cnsr {

constexpr float kPi = 3.14159265358979323846f;
constexpr float kInvPi = 0.31830988618379067154f;

struct Vec3 {
    float x = 0.f, y = 0.f, z = 0.f;
    Vec3() = default;
    constexpr Vec3(float x_, float y_, float z_) : x(x_), y(y_), z(z_) {}
    explicit constexpr Vec3(float s) : x(s), y(s), z(s) {}
    float operator[](int i) const { return i == 0 ? x : (i == 1 ? y : z); }
    float& operator[](int i) { return i == 0 ? x : (i == 1 ? y : z); }
    Vec3 operator-() const { return {-x, -y, -z}; }
    Vec3& operator+=(const Vec3& o) { x += o.x; y += o.y; z += o.z; return *this; }
    Vec3& operator-=(const Vec3& o) { x -= o.x; y -= o.y; z -= o.z; return *this; }
    Vec3& operator*=(const Vec3& o) { x *= o.x; y *= o.y; z *= o.z; return *this; }
    Vec3& operator*=(float s) { x *= s; y *= s; z *= s; return *this; }
};

inline Vec3 operator+(const Vec3& a, const Vec3& b) { return {a.x + b.x, a.y + b.y, a.z + b.z}; }
inline Vec3 operator-(const Vec3& a, const Vec3& b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline Vec3 operator*(const Vec3& a, const Vec3& b) { return {a.x * b.x, a.y * b.y, a.z * b.z}; }
inline Vec3 operator*(const Vec3& a, float s) { return {a.x * s, a.y * s, a.z * s}; }
inline Vec3 operator*(float s, const Vec3& a) { return {a.x * s, a.y * s, a.z * s}; }
inline Vec3 operator/(const Vec3& a, float s) { float inv = 1.f / s; return a * inv; }
inline float dot(const Vec3& a, const Vec3& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(const Vec3& a, const Vec3& b) {
    return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline float length(const Vec3& a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalize(const Vec3& a) {
    float l2 = dot(a, a);
    return l2 > 0.f ? a * (1.f / std::sqrt(l2)) : a;
}
inline float max_component(const Vec3& a) { return std::max(a.x, std::max(a.y, a.z)); }
inline float max_abs_component(const Vec3& a) {
    return std::max(std::fabs(a.x), std::max(std::fabs(a.y), std::fabs(a.z)));
}
inline bool is_black(const Vec3& a) { return a.x == 0.f && a.y == 0.f && a.z == 0.f; }
inline bool is_finite(const Vec3& a) { return std::isfinite(a.x) && std::isfinite(a.y) && std::isfinite(a.z); }
inline Vec3 clamp(const Vec3& a, float lo, float hi) {
    return {std::min(std::max(a.x, lo), hi), std::min(std::max(a.y, lo), hi), std::min(std::max(a.z, lo), hi)};
}
/// Mirror reflection of the incident direction d about the normal n (both unit).
inline Vec3 reflect(const Vec3& d, const Vec3& n) { return d - n * (2.f * dot(d, n)); }

/// Orthonormal frame with z = n (Duff et al. 2017, "Building an orthonormal basis, revisited").
struct Frame {
    Vec3 s, t, n;
    Frame() = default;
    explicit Frame(const Vec3& n_) : n(n_) {
        float sign = std::copysign(1.f, n.z);
        float a = -1.f / (sign + n.z);
        float b = n.x * n.y * a;
        s = Vec3(1.f + sign * n.x * n.x * a, sign * b, -sign * n.x);
        t = Vec3(b, sign + n.y * n.y * a, -n.y);
    }
    Vec3 to_local(const Vec3& v) const { return {dot(v, s), dot(v, t), dot(v, n)}; }
    Vec3 to_world(const Vec3& v) const { return s * v.x + t * v.y + n * v.z; }
};

}  // namespace cnsr
