// Pinhole camera with a vertical field of view, +Y up, and the pose encoding fed to the networks.
#pragma once

#include <array>
#include <cmath>

#include "vecmath.h"

namespace cnsr {

struct Ray {
    Vec3 o, d;
    float tnear = 0.f, tfar = 1e30f;
};

class Camera {
public:
    Vec3 position{0.f, 0.f, 0.f};
    Vec3 lookat{0.f, 0.f, -1.f};
    float fov_deg = 75.f;
    float near_clip = 0.01f;
    float far_clip = 100.f;

    /// Recomputes the camera frame; call after changing the fields above.
    void update() {
        forward_ = normalize(lookat - position);
        Vec3 up(0.f, 1.f, 0.f);
        right_ = cross(forward_, up);
        if (dot(right_, right_) < 1e-12f) right_ = cross(forward_, Vec3(0.f, 0.f, -1.f));  // looking straight up/down
        right_ = normalize(right_);
        up_ = cross(right_, forward_);
        tan_half_ = std::tan(0.5f * fov_deg * kPi / 180.f);
    }

    /// Primary ray through film position (fx, fy) in [0, 1)^2, fy = 0 at the top row.
    /// Near/far are planes perpendicular to the view axis, so they are scaled to distances along the ray.
    Ray generate_ray(float fx, float fy, float aspect = 1.f) const {
        float sx = (2.f * fx - 1.f) * tan_half_ * aspect;
        float sy = (1.f - 2.f * fy) * tan_half_;
        Vec3 d = normalize(right_ * sx + up_ * sy + forward_);
        float cos_axis = dot(d, forward_);
        Ray r;
        r.o = position;
        r.d = d;
        r.tnear = near_clip / cos_axis;
        r.tfar = far_clip / cos_axis;
        return r;
    }

    /// World-to-camera lookAt matrix (OpenGL: camera looks down -Z, +Y up), column-major,
    /// translation at indices 12, 13, 14.
    std::array<float, 16> pose() const {
        const Vec3& s = right_;
        const Vec3& u = up_;
        const Vec3& f = forward_;
        std::array<float, 16> m{};
        // column-major: m[col * 4 + row]
        m[0] = s.x;  m[4] = s.y;  m[8] = s.z;   m[12] = -dot(s, position);
        m[1] = u.x;  m[5] = u.y;  m[9] = u.z;   m[13] = -dot(u, position);
        m[2] = -f.x; m[6] = -f.y; m[10] = -f.z; m[14] = dot(f, position);
        m[3] = 0.f;  m[7] = 0.f;  m[11] = 0.f;  m[15] = 1.f;
        return m;
    }

    const Vec3& forward() const { return forward_; }
    const Vec3& right() const { return right_; }
    const Vec3& up() const { return up_; }
    float tan_half_fov() const { return tan_half_; }

private:
    Vec3 forward_{0.f, 0.f, -1.f}, right_{1.f, 0.f, 0.f}, up_{0.f, 1.f, 0.f};
    float tan_half_ = 1.f;
};

}  // namespace cnsr
