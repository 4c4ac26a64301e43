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
        const Vec3 to_c = light.center - p;
        const float d2 = dot(to_c, to_c);
        const float r2 = light.radius * light.radius;
        if (d2 <= r2 * 1.0002f) return false;
        const float inv_d = 1.f / std::sqrt(d2);
        const Vec3 wc = to_c * inv_d;
        // 1 - cos(theta_max) without cancellation for small, distant spheres
        const float sin2_max = r2 * inv_d * inv_d;
        const float omc = sin2_max / (1.f + std::sqrt(1.f - sin2_max));
        // uniform in the cone around wc: 1 - cos(theta) = u1 (1 - cos(theta_max))
        const float x = u1 * omc;
        const float cos_t = 1.f - x;
        const float sin2_t = x * (2.f - x);
        const float sin_t = std::sqrt(sin2_t);
        const float phi = 2.f * kPi * u2;
        const Frame f(wc);
        const Vec3 wi = f.to_world(Vec3(std::cos(phi) * sin_t, std::sin(phi) * sin_t, cos_t));
        // distance to the near intersection with the sphere
        const float t = d2 * inv_d * cos_t - std::sqrt(std::max(0.f, r2 - d2 * sin2_t));
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

std::vector<Light> build_lights(std::vector<std::unique_ptr<Shape>>& shapes, const std::vector<Material>& materials) {
    std::vector<Light> lights;
    for (auto& sp : shapes) {
        Shape& s = *sp;
        const Material& m = materials[s.material];
        if (!m.is_emissive()) continue;
        float area = s.area();
        s.radiance = area > 0.f ? m.emission / area : Vec3(0.f);
        if (s.type == ShapeType::Mesh) continue;  // emissive meshes are hit, not sampled
        Light l;
        l.radiance = s.radiance;
        if (s.type == ShapeType::Sphere) {
            l.type = LightType::Sphere;
            l.center = s.center;
            l.radius = s.radius;
        } else {
            l.type = LightType::Quad;
            l.corner = s.corner;
            l.e1 = s.e1;
            l.e2 = s.e2;
            l.normal = s.normal;
        }
        l.area = area;
        s.light = int(lights.size());
        s.mask = light_mask_bit(s.light);
        lights.push_back(l);
    }
    return lights;
}

}  // namespace cnsr
