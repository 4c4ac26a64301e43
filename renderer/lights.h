// Emitters that next-event estimation samples: spheres (solid-angle cone sampling) and
// one-sided quads (area sampling), built from the scene's emissive shapes. Emitted radiance =
// emission / area.
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

/// A point sampled on a light as seen from a shading point.
struct LightSample {
    Vec3 point;   // the sampled point on the light
    Vec3 wi;      // unit direction from the shading point to the light point
    float dist;   // distance to the light point
    Vec3 Le;      // radiance leaving the light point towards the shading point
    float pdf;    // solid-angle density of wi at the shading point (this light only)
};

/// Samples a direction towards `light` from point p; false if the light cannot be seen from p
/// (p inside a sphere light, or behind a one-sided quad).
bool sample_light(const Light& light, const Vec3& p, float u1, float u2, LightSample* out);

/// Solid-angle density with which sample_light would produce direction wi from p, given that
/// the ray p + t wi hits the light's front side at distance `dist`.
float light_pdf(const Light& light, const Vec3& p, const Vec3& wi, float dist);

}  // namespace cnsr
