// The path tracer's per-vertex work for a packet of kPacketWidth lanes, done as
// structure-of-arrays lane loops: hit-frame set-up, light sampling (sphere cones, quad areas),
// BSDF evaluation and sampling (Lambert + GGX visible normals, Fresnel, the mixture pdf), MIS
// weights, the clamp and the throughput updates run branch-free over all lanes at once, so that
// the compiler vectorises them; only material / texture / light look-ups, the random numbers
// and the sines and cosines are per lane. The loops are compiled twice, for the x86-64 baseline
// (SSE2) and for AVX2, and the AVX2 version is chosen at run time where the CPU has it (unless
// the environment variable CNSR_NO_AVX2 is set). Both give bit-identical results, equal to a
// scalar evaluation of the same formulas (material.h, lights.h): no FMA contraction and the
// same operation order as the scalar code.
#pragma once

#include <cstdint>
#include <vector>

#include "integrator.h"
#include "sampling.h"
#include "scene.h"

namespace cnsr {

/// Per-sample estimates of the shading passes.
struct ShadingSample {
    Vec3 beauty, direct, diffuse;
};

/// The scene's lights in structure-of-arrays form, gathered per lane by index.
struct LightTable {
    std::vector<float> sphere;  // 1 for a sphere light, 0 for a quad
    std::vector<float> px, py, pz;  // sphere centre or quad corner
    std::vector<float> r2;          // squared sphere radius
    std::vector<float> e1x, e1y, e1z, e2x, e2y, e2z, nx, ny, nz, area;  // quads
    std::vector<float> lr, lg, lb;  // radiance
    std::vector<uint32_t> shadow_mask;  // ray mask of a shadow ray aimed at the light (skips it)
    explicit LightTable(const std::vector<Light>& lights);
};

/// Radiance estimates for up to kPacketWidth paths traced in lockstep (one vertex per step for
/// all lanes, so that their rays go to Embree as packets). Each lane is an independent path
/// with its own generator; its result does not depend on the other lanes.
///   beauty:  full path-traced radiance (emission + NEE/MIS at every vertex),
///   direct:  directly seen emission + everything arriving after exactly one scattering event,
///   diffuse: the same estimator with every BSDF restricted to its diffuse lobe, continued only
///            while the sampled lobes were diffuse.
class PathTracer {
public:
    PathTracer(const Scene& scene, const RenderOptions& opt);
    /// Lanes with active[i] start at first_hit[i], reached by camera direction dir[i]; each
    /// draws from rng[i]. out[i] is set for every lane (zero for inactive ones).
    void trace(const Vec3* dir, const SurfaceHit* first_hit, const bool* active, Rng* rng,
               ShadingSample* out) const;
    /// The instruction set the lane loops run with: "avx2" or "baseline".
    static const char* isa();

    const Scene& scene;
    const RenderOptions& opt;
    const bool need_diffuse;  // the diffuse-only estimator runs only for the passes that need it
    const LightTable lights;
};

}  // namespace cnsr
