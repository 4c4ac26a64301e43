#include "material.h"

#include <cmath>

namespace cnsr {

float fresnel_dielectric(float cos_i, float eta) {
    cos_i = std::min(1.f, std::max(0.f, cos_i));
    float sin2_t = (1.f - cos_i * cos_i) / (eta * eta);
    if (sin2_t >= 1.f) return 1.f;  // total internal reflection (eta < 1)
    float cos_t = std::sqrt(1.f - sin2_t);
    float rs = (cos_i - eta * cos_t) / (cos_i + eta * cos_t);
    float rp = (eta * cos_i - cos_t) / (eta * cos_i + cos_t);
    return 0.5f * (rs * rs + rp * rp);
}

float GGX::D(const Vec3& h) const {
    if (h.z <= 0.f) return 0.f;
    float a2 = alpha * alpha;
    float c2 = h.z * h.z;
    float d = c2 * (a2 - 1.f) + 1.f;
    return a2 / (kPi * d * d);
}

float GGX::Lambda(const Vec3& w) const {
    float c2 = w.z * w.z;
    if (c2 <= 0.f) return 1e30f;
    float tan2 = std::max(0.f, 1.f - c2) / c2;
    return 0.5f * (-1.f + std::sqrt(1.f + alpha * alpha * tan2));
}

Vec3 GGX::sample_visible_normal(const Vec3& wo, float u1, float u2) const {
    // Stretch the view vector to the hemisphere configuration.
    Vec3 vh = normalize(Vec3(alpha * wo.x, alpha * wo.y, wo.z));
    float lensq = vh.x * vh.x + vh.y * vh.y;
    Vec3 t1 = lensq > 0.f ? Vec3(-vh.y, vh.x, 0.f) * (1.f / std::sqrt(lensq)) : Vec3(1.f, 0.f, 0.f);
    Vec3 t2 = cross(vh, t1);
    // Uniform point on the projected disk.
    float r = std::sqrt(u1);
    float phi = 2.f * kPi * u2;
    float p1 = r * std::cos(phi);
    float p2 = r * std::sin(phi);
    float s = 0.5f * (1.f + vh.z);
    p2 = (1.f - s) * std::sqrt(std::max(0.f, 1.f - p1 * p1)) + s * p2;
    Vec3 nh = t1 * p1 + t2 * p2 + vh * std::sqrt(std::max(0.f, 1.f - p1 * p1 - p2 * p2));
    // Unstretch.
    return normalize(Vec3(alpha * nh.x, alpha * nh.y, std::max(1e-6f, nh.z)));
}

BsdfEval Bsdf::eval(const Vec3& wo, const Vec3& wi) const {
    BsdfEval e{Vec3(0.f), Vec3(0.f), 0.f, 0.f};
    if (wo.z <= 0.f || wi.z <= 0.f) return e;
    float kd = 1.f - spec_;
    if (kd > 0.f) {
        e.f_diffuse = albedo_ * (kd * kInvPi);
        e.pdf_diffuse = kd * wi.z * kInvPi;
    }
    if (spec_ > 0.f) {
        Vec3 h = normalize(wo + wi);
        float d = ggx_.D(h);
        float f = fresnel_dielectric(dot(wo, h), ior_);
        float g = ggx_.G2(wo, wi);
        e.f_specular = Vec3(spec_ * d * g * f / (4.f * wo.z * wi.z));
        e.pdf_specular = spec_ * ggx_.pdf_reflection(wo, h);
    }
    return e;
}

bool Bsdf::sample(const Vec3& wo, float u_lobe, float u1, float u2, BsdfSample* out) const {
    if (wo.z <= 0.f) return false;
    Vec3 wi;
    bool diffuse = u_lobe >= spec_;
    if (diffuse) {
        wi = sample_cosine_hemisphere(u1, u2);
    } else {
        Vec3 h = ggx_.sample_visible_normal(wo, u1, u2);
        wi = reflect(-wo, h);
    }
    if (wi.z <= 0.f) return false;
    out->wi = wi;
    out->eval = eval(wo, wi);
    out->diffuse_lobe = diffuse;
    return out->eval.pdf() > 0.f;
}

}  // namespace cnsr
