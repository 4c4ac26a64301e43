// Emitters that next-event estimation samples: spheres (solid-angle cone sampling) and
// one-sided quads (area sampling). Emitted radiance = emission / area.
#pragma once

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
