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

/// Geometry masks (Embree ray masks): bit 0 for the shapes outside the emitter group (what a
/// query that skips emitters hits), bits 1..30 for lights 0..29 (so that a shadow ray can skip
/// the light it aims at), bit 31 for the other emitters.
constexpr uint32_t kMaskNonEmitter = 1u;
constexpr uint32_t kMaskOtherEmitter = 1u << 31;
inline uint32_t light_mask_bit(int i) { return i >= 0 && i < 30 ? (2u << i) : kMaskOtherEmitter; }
/// The ray mask of a shadow ray aimed at light i: every bit but the light's own, where it has one.
inline uint32_t shadow_ray_mask(int i) {
    const uint32_t bit = light_mask_bit(i);
    return bit != kMaskOtherEmitter ? ~bit : ~0u;
}

/// The lights of a scene, in shape order: every emissive sphere or quad becomes one. Sets each
/// emissive shape's `radiance` (emission / area; emissive meshes too, which are hit but never
/// sampled), for the light shapes `light` (their index), and every shape's `mask`.
std::vector<Light> build_lights(std::vector<std::unique_ptr<Shape>>& shapes, const std::vector<Material>& materials);

}  // namespace cnsr
