// The material parameters of the reference's single material model: a mixture of a Lambertian
// lobe and a GGX microfacet lobe weighted by `spec = 1 - (roughness - 0.05) / 0.95`. The BSDF
// itself is evaluated and sampled by the lane kernels (shading_lanes.inc).
#pragma once

#include <algorithm>

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

}  // namespace cnsr
