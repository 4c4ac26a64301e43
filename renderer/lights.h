// The lights that next-event estimation samples, built from the scene's emissive shapes:
// spheres and one-sided quads; emitted radiance = emission / area. They are sampled by the
// lane kernels (shading_lanes.inc: sample_light_lane, light_pdf_lane).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "material.h"
#include "shapes.h"
#include "vecmath.h"

namespace cnsr {

enum class LightType { Sphere, Quad };

struct Light {
    LightType type = LightType::Sphere;
    Vec3 radiance;  // emission / area
    // sphere
    Vec3 center;
    float radius = 0.f;
    // quad: corner + s * e1 + t * e2, s, t in [0, 1]; emits on the side of `normal`
    Vec3 corner, e1, e2, normal;
    float area = 0.f;
};

/// Embree geometry mask of light i: lights 0..30 get a bit of their own so that a shadow ray can
/// skip the light it aims at; everything else has bit 0 and is never skipped.
inline uint32_t light_mask_bit(int i) { return i >= 0 && i < 31 ? (2u << i) : 1u; }

/// The lights of a scene, in shape order: every emissive sphere or quad becomes one. Sets each
/// emissive shape's `radiance` (emission / area; emissive meshes too, which are hit but never
/// sampled) and, for the light shapes, `light` (their index) and `mask` (light_mask_bit).
std::vector<Light> build_lights(std::vector<std::unique_ptr<Shape>>& shapes, const std::vector<Material>& materials);

}  // namespace cnsr
