// The single material model of the reference: a mixture of a Lambertian lobe and a GGX
// microfacet lobe (Smith height-correlated shadowing, dielectric Fresnel, white specular),
// selected by `spec = 1 - (roughness - 0.05) / 0.95`.
#pragma once

#include "sampling.h"
#include "vecmath.h"

namespace cnsr {

struct Material {
    Vec3 color{0.8f, 0.8f, 0.8f};
    Vec3 emission{0.f, 0.f, 0.f};
    float roughness = 1.f;
    float ior = 15.f;
    int texture = -1;  // index into Scene textures, -1 = none
    float freq_u = 1.f, freq_v = 1.f;
    float id_norm = 0.f;  // material id / maxId, computed by the Python side

    bool is_emissive() const { return emission.x > 0.f || emission.y > 0.f || emission.z > 0.f; }
    /// Weight of the GGX lobe (and its selection probability when sampling).
    float spec_weight() const {
        float s = 1.f - (roughness - 0.05f) / 0.95f;
        return std::min(1.f, std::max(0.f, s));
    }
    /// Mirror-like materials have no albedo in the G-buffer.
    bool is_mirror_like() const { return roughness <= 0.05f; }
};

/// Unpolarised Fresnel reflectance of a dielectric interface (exterior ior 1, interior eta).
float fresnel_dielectric(float cos_i, float eta);

/// GGX (Trowbridge-Reitz) distribution with the Smith height-correlated masking-shadowing term.
struct GGX {
    float alpha;
    /// Normal distribution D(h), h in the local frame (z = normal).
    float D(const Vec3& h) const;
    float Lambda(const Vec3& w) const;
    float G1(const Vec3& w) const { return 1.f / (1.f + Lambda(w)); }
    float G2(const Vec3& wo, const Vec3& wi) const { return 1.f / (1.f + Lambda(wo) + Lambda(wi)); }
    /// Visible normal sampled from D_wo (Heitz 2018, "Sampling the GGX Distribution of Visible Normals").
    Vec3 sample_visible_normal(const Vec3& wo, float u1, float u2) const;
    /// Solid-angle pdf of wi = reflect(-wo, h) when h is drawn from the visible normals of wo.
    float pdf_reflection(const Vec3& wo, const Vec3& h) const { return G1(wo) * D(h) / (4.f * wo.z); }
};

/// Both lobes' values and sampling densities for one pair of directions (local frame).
struct BsdfEval {
    Vec3 f_diffuse;      // (1 - spec) * albedo / pi
    Vec3 f_specular;     // spec * D G F / (4 cos_o cos_i)
    float pdf_diffuse;   // (1 - spec) * cos_i / pi        (selection probability included)
    float pdf_specular;  // spec * G1 D / (4 cos_o)        (selection probability included)
    Vec3 f() const { return f_diffuse + f_specular; }
    float pdf() const { return pdf_diffuse + pdf_specular; }
};

struct BsdfSample {
    Vec3 wi;           // local frame
    BsdfEval eval;     // both lobes at wi
    bool diffuse_lobe; // which lobe generated wi
};

/// The material evaluated at a surface point: textured albedo resolved, local frame z = shading normal.
class Bsdf {
public:
    Bsdf(const Vec3& albedo, float spec, float roughness, float ior)
        : albedo_(albedo), spec_(spec), ggx_{std::max(roughness * roughness, 1e-4f)}, ior_(ior) {}

    BsdfEval eval(const Vec3& wo, const Vec3& wi) const;
    /// Samples a lobe by `spec` (u_lobe), then a direction from it; false if none was produced.
    bool sample(const Vec3& wo, float u_lobe, float u1, float u2, BsdfSample* out) const;
    float spec() const { return spec_; }

private:
    Vec3 albedo_;
    float spec_;
    GGX ggx_;
    float ior_;
};

}  // namespace cnsr
