// Path tracer with next-event estimation and multiple importance sampling (balance heuristic)
// that fills the 16 G-buffer passes of one camera view.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "camera.h"
#include "passes.h"
#include "scene.h"

namespace cnsr {

struct RenderOptions {
    int width = 64, height = 64;
    int spp = 16;
    uint64_t seed = 0;
    int threads = 0;         // 0 = all hardware threads
    int bounces = 4;         // scattering events after the camera ray (1 = direct lighting only)
    bool hide_lights = false;
    bool nee = true;
    Vec3 background{0.f, 0.f, 0.f};
    PassSet passes = PassSet::all();
    /// Optional: called about every 50 ms by the calling thread (which renders tiles too, and
    /// calls it between its packets); returning true cancels the render, which throws
    /// RenderCancelled.
    std::function<bool()> should_cancel;
};

struct RenderCancelled : std::runtime_error {
    RenderCancelled() : std::runtime_error("render cancelled") {}
};

/// One float buffer (height * width * channels, row 0 = top) per requested pass; empty otherwise.
struct RenderResult {
    std::vector<float> buffers[kNumPasses];
    uint64_t rays_intersect = 0;  // closest-hit rays traced
    uint64_t rays_occluded = 0;   // shadow / occlusion rays traced
};

/// Renders `scene` (committed) from `camera` into the requested passes. Deterministic for a seed:
/// every sample draws from its own generator seeded by (seed, pixel, sample).
void render(const Scene& scene, const Camera& camera, const RenderOptions& options, RenderResult* result);

}  // namespace cnsr
