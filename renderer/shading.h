// The path tracer. Its per-vertex work for a packet of kPacketWidth lanes is done as
// structure-of-arrays lane loops: hit-frame set-up, light sampling (sphere cones, quad areas),
// BSDF evaluation and sampling (Lambert + GGX visible normals, Fresnel, the mixture pdf), MIS
// weights, the clamp, the throughput updates and the shadow and continuation rays run
// branch-free over all lanes at once, so that the compiler vectorises them; only the material /
// texture / light look-ups and the random numbers are per lane. The loops are compiled twice,
// for the x86-64 baseline (SSE2) and for AVX2, and chosen at run time (simd.h); both give the
// same bits: no FMA contraction, and the operation order of the scalar formulas (material.h,
// lights.h), whose results they reproduce exactly except for the samplers' sine and cosine
// (lanemath.h, within 1e-7 of libm).
#pragma once

#include <cstdint>
#include <vector>

#include "integrator.h"
#include "lanemath.h"
#include "sampling.h"
#include "scene.h"

namespace cnsr {

/// Per-sample estimates of the shading passes.
struct ShadingSample {
    Vec3 beauty, direct, diffuse;
};

/// The structure-of-arrays state of the lanes at one path vertex.
struct Vertex {
    // inputs gathered per lane
    alignas(64) float shade[kPacketWidth];              // the lane scatters here (NEE + continuation)
    alignas(64) float px[kPacketWidth], py[kPacketWidth], pz[kPacketWidth];     // hit point
    alignas(64) float gx[kPacketWidth], gy[kPacketWidth], gz[kPacketWidth];     // geometric normal
    alignas(64) float nx[kPacketWidth], ny[kPacketWidth], nz[kPacketWidth];     // shading normal
    alignas(64) float dx[kPacketWidth], dy[kPacketWidth], dz[kPacketWidth];     // incoming ray direction
    alignas(64) float ar[kPacketWidth], ag[kPacketWidth], ab[kPacketWidth];     // albedo
    alignas(64) float spec[kPacketWidth], alpha[kPacketWidth], ior[kPacketWidth];
    // light sample inputs
    alignas(64) float lsphere[kPacketWidth], lcx[kPacketWidth], lcy[kPacketWidth], lcz[kPacketWidth], lr2[kPacketWidth];
    alignas(64) float le1x[kPacketWidth], le1y[kPacketWidth], le1z[kPacketWidth], le2x[kPacketWidth], le2y[kPacketWidth], le2z[kPacketWidth];
    alignas(64) float lnx[kPacketWidth], lny[kPacketWidth], lnz[kPacketWidth], larea[kPacketWidth];
    alignas(64) float lLr[kPacketWidth], lLg[kPacketWidth], lLb[kPacketWidth];
    alignas(64) float lu1[kPacketWidth], lu2[kPacketWidth];
    // BSDF sample inputs: the two uniforms, then the disk point's radius and angle, then the
    // cosine-hemisphere (x, y) or the visible-normal disk point (p1, p2)
    alignas(64) float diffuse_lobe[kPacketWidth];
    alignas(64) float bu1[kPacketWidth], bu2[kPacketWidth];
    alignas(64) float s1[kPacketWidth], s2[kPacketWidth];
    // frame and outgoing direction
    alignas(64) float sx[kPacketWidth], sy[kPacketWidth], sz[kPacketWidth], tx[kPacketWidth], ty[kPacketWidth], tz[kPacketWidth];
    alignas(64) float wox[kPacketWidth], woy[kPacketWidth], woz[kPacketWidth];
    // NEE results: the lanes with a contribution (shadow), those of them whose shadow ray is
    // traced (trace; an empty segment is unoccluded), and the shadow rays
    alignas(64) float shadow[kPacketWidth];
    alignas(64) int trace[kPacketWidth];
    alignas(64) float sox[kPacketWidth], soy[kPacketWidth], soz[kPacketWidth], sdx[kPacketWidth], sdy[kPacketWidth], sdz[kPacketWidth], stfar[kPacketWidth];
    alignas(64) uint32_t smask[kPacketWidth];  // skips the light aimed at (Scene::segment_occluded)
    // sampled direction (local) and its evaluation
    alignas(64) float wix[kPacketWidth], wiy[kPacketWidth], wiz[kPacketWidth];
};

/// The throughputs and MIS state of the lanes' paths.
struct PathState {
    alignas(64) float br[kPacketWidth], bg[kPacketWidth], bb[kPacketWidth];     // throughput of the full estimator
    alignas(64) float bdr[kPacketWidth], bdg[kPacketWidth], bdb[kPacketWidth];  // of the diffuse-only estimator
    alignas(64) float diffuse_path[kPacketWidth];
    alignas(64) float prev_pdf[kPacketWidth], prev_pdf_d[kPacketWidth];   // BSDF pdfs of the direction that reached the hit
    alignas(64) float ppx[kPacketWidth], ppy[kPacketWidth], ppz[kPacketWidth];  // the previous vertex
    // pending next-event estimate, added if its shadow ray is unoccluded
    alignas(64) float ncr[kPacketWidth], ncg[kPacketWidth], ncb[kPacketWidth], ncdr[kPacketWidth], ncdg[kPacketWidth], ncdb[kPacketWidth];
    // the continuation ray
    alignas(64) float cont[kPacketWidth];
    alignas(64) float ox[kPacketWidth], oy[kPacketWidth], oz[kPacketWidth], rx[kPacketWidth], ry[kPacketWidth], rz[kPacketWidth];
};

/// The lane loops' working memory (zero-initialise it once, e.g. per tile): lanes not in use
/// compute on the finite values earlier paths left, and their results are ignored.
struct LaneState {
    Vertex v;
    PathState st[2];
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

/// What the path tracer reads of a shape and its material at a hit, in one place.
struct ShadeShape {
    Vec3 albedo;            // the material colour (textured materials: Scene::albedo at the hit)
    Vec3 radiance;          // emitted radiance when emissive
    float spec, alpha, ior;  // GGX lobe weight, GGX alpha = max(roughness^2, 1e-4), ior
    int material, light;    // material index; light index or -1
    bool emissive, textured;
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
    void trace(const Vec3* dir, const SurfaceHit* first_hit, const bool* active, Rng* rng, ShadingSample* out,
               LaneState* state) const;

    const Scene& scene;
    const RenderOptions& opt;
    const bool need_diffuse;  // the diffuse-only estimator runs only for the passes that need it
    const LightTable lights;
    std::vector<ShadeShape> shapes;  // per shape of the scene
};

}  // namespace cnsr
