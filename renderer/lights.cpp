#include "lights.h"

#include <cmath>

#include "sampling.h"

namespace cnsr {

namespace {

/// 1 - cos(theta_max) of the cone a sphere of radius r subtends at distance d > r, computed
/// without cancellation for small, distant spheres.
inline float one_minus_cos_max(float r, float d) {
    float sin2 = (r * r) / (d * d);
    float cos_max = std::sqrt(std::max(0.f, 1.f - sin2));
    return sin2 / (1.f + cos_max);
}

}  // namespace

bool sample_light(const Light& light, const Vec3& p, float u1, float u2, LightSample* out) {
    if (light.type == LightType::Sphere) {
        Vec3 to_c = light.center - p;
        float d = length(to_c);
        if (d <= light.radius * 1.0001f) return false;
        Vec3 wc = to_c / d;
        float omc = one_minus_cos_max(light.radius, d);
        // uniform in the cone around wc
        float cos_t = 1.f - u1 * omc;
        float sin_t = std::sqrt(std::max(0.f, 1.f - cos_t * cos_t));
        float phi = 2.f * kPi * u2;
        Frame f(wc);
        Vec3 wi = f.to_world(Vec3(std::cos(phi) * sin_t, std::sin(phi) * sin_t, cos_t));
        // distance to the near intersection with the sphere
        float b = d * cos_t;
        float disc = light.radius * light.radius - d * d * sin_t * sin_t;
        float t = b - std::sqrt(std::max(0.f, disc));
        out->wi = wi;
        out->dist = std::max(t, 0.f);
        out->point = p + wi * out->dist;
        out->Le = light.radiance;
        out->pdf = 1.f / (2.f * kPi * omc);
        return std::isfinite(out->pdf);
    }
    Vec3 q = light.corner + light.e1 * u1 + light.e2 * u2;
    Vec3 w = q - p;
    float d2 = dot(w, w);
    if (d2 <= 0.f) return false;
    float d = std::sqrt(d2);
    Vec3 wi = w / d;
    float cos_l = -dot(light.normal, wi);
    if (cos_l <= 0.f) return false;  // one-sided emitter seen from behind
    out->point = q;
    out->wi = wi;
    out->dist = d;
    out->Le = light.radiance;
    out->pdf = d2 / (cos_l * light.area);
    return std::isfinite(out->pdf);
}

float light_pdf(const Light& light, const Vec3& p, const Vec3& wi, float dist) {
    if (light.type == LightType::Sphere) {
        float d = length(light.center - p);
        if (d <= light.radius * 1.0001f) return 0.f;
        return 1.f / (2.f * kPi * one_minus_cos_max(light.radius, d));
    }
    float cos_l = -dot(light.normal, wi);
    if (cos_l <= 0.f) return 0.f;
    return dist * dist / (cos_l * light.area);
}

}  // namespace cnsr
