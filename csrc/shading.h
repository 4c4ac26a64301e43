// The path tracer, with the renderer's BSDF and light sampler, and the lane kernels of the
// camera rays and G-buffer passes: the per-vertex work of a packet of kPacketWidth lanes runs
// as structure-of-arrays lane loops (shading_lanes.inc), compiled for the x86-64 baseline, AVX2
// and AVX-512 and chosen at run time (simd.h): material and light gathers, random numbers,
// frames, light sampling, BSDF evaluation and sampling, MIS weights, the clamp, throughput
// updates, shadow and continuation rays, textures; only emitter hits and a texture's set-up are
// per lane. The test hooks at the end run the same kernels on any number of inputs.
#pragma once

#include <cstdint>
#include <vector>

#include "integrator.h"
#include "lanemath.h"
#include "sampling.h"
#include "scene.h"

namespace cnsr {

/// Per-sample estimates of the shading passes of a packet's lanes (structure of arrays).
struct ShadingLanes {
    alignas(64) float beauty[3][kPacketWidth];
    alignas(64) float direct[3][kPacketWidth];
    alignas(64) float diffuse[3][kPacketWidth];
};

/// The structure-of-arrays state of the lanes at one path vertex: the surface hit (HitLanes:
/// point, normals, texture coordinates, distance, shape), then what the lane loops read and write.
struct Vertex : HitLanes {
    alignas(64) float dx[kPacketWidth], dy[kPacketWidth], dz[kPacketWidth];  // incoming ray direction
    alignas(64) float shade[kPacketWidth];  // the lane scatters here (NEE + continuation)
    alignas(64) float ar[kPacketWidth], ag[kPacketWidth], ab[kPacketWidth];  // albedo
    alignas(64) float spec[kPacketWidth], alpha[kPacketWidth], ior[kPacketWidth];
    // light sample inputs
    alignas(64) float lsphere[kPacketWidth], lcx[kPacketWidth], lcy[kPacketWidth], lcz[kPacketWidth], lr2[kPacketWidth];
    alignas(64) float le1x[kPacketWidth], le1y[kPacketWidth], le1z[kPacketWidth], le2x[kPacketWidth], le2y[kPacketWidth], le2z[kPacketWidth];
    alignas(64) float lnx[kPacketWidth], lny[kPacketWidth], lnz[kPacketWidth], larea[kPacketWidth];
    alignas(64) float lLr[kPacketWidth], lLg[kPacketWidth], lLb[kPacketWidth];
    // the uniforms of the vertex: light choice and light sample, lobe choice and BSDF sample
    alignas(64) float ul[kPacketWidth], lu1[kPacketWidth], lu2[kPacketWidth];
    alignas(64) float ulobe[kPacketWidth], bu1[kPacketWidth], bu2[kPacketWidth];
    // BSDF sample: the lobe (1 = diffuse) and its disk point: the cosine-hemisphere (x, y) or
    // the visible-normal disk point (p1, p2)
    alignas(64) float diffuse_lobe[kPacketWidth];
    alignas(64) float s1[kPacketWidth], s2[kPacketWidth];
    // frame and outgoing direction
    alignas(64) float sx[kPacketWidth], sy[kPacketWidth], sz[kPacketWidth], tx[kPacketWidth], ty[kPacketWidth], tz[kPacketWidth];
    alignas(64) float wox[kPacketWidth], woy[kPacketWidth], woz[kPacketWidth];
    // NEE results: the lanes with a contribution (shadow), and the shadow rays (those traced
    // have trace set; an empty segment is unoccluded; the mask skips the light aimed at)
    alignas(64) float shadow[kPacketWidth];
    ShadowRays sr;
    // sampled direction (local)
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
    RayHitPacket rays;  // the continuation rays
};

/// The scene's lights in structure-of-arrays form, gathered per lane by index.
struct LightTable {
    std::vector<float> sphere;  // 1 for a sphere light, 0 for a quad
    std::vector<float> px, py, pz;  // sphere centre or quad corner
    std::vector<float> radius, r2;  // sphere radius and its square
    std::vector<float> e1x, e1y, e1z, e2x, e2y, e2z, nx, ny, nz, area;  // quads
    std::vector<float> lr, lg, lb;  // radiance
    std::vector<uint32_t> shadow_mask;  // ray mask of a shadow ray aimed at the light (skips it)
    explicit LightTable(const std::vector<Light>& lights);
};

/// The BSDF parameters of a material: the GGX lobe's weight (and selection probability) spec,
/// GGX alpha = max(roughness^2, 1e-4), and the ior of the Fresnel term.
struct MaterialLobes {
    float spec, alpha, ior;
};
MaterialLobes material_lobes(const Material& m);

/// What the path tracer reads of each shape and its material: tables indexed by shape, which
/// the lane loops gather from.
struct ShadeTable {
    std::vector<float> ar, ag, ab;  // the material colour (textured materials: times the texture at the hit)
    std::vector<float> lr, lg, lb;  // emitted radiance when emissive
    std::vector<float> spec, alpha, ior;  // material_lobes()
    std::vector<float> emissive, textured;  // 1 / 0
    std::vector<int> material, light;  // material index; light index or -1
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
    /// Lanes with active[i] != 0 start at their hit in `first` (a hit, shape >= 0), reached
    /// along the camera direction (dx, dy, dz)[i]; each draws from its generator in `rng`.
    /// `out` is set for every lane (zero for inactive ones).
    void trace(const HitLanes& first, const float* dx, const float* dy, const float* dz, const int* active,
               RngLanes* rng, ShadingLanes* out, LaneState* state) const;

    const Scene& scene;
    const RenderOptions& opt;
    const bool need_diffuse;  // the diffuse-only estimator runs only for the passes that need it
    const LightTable lights;
    ShadeTable shapes;  // per shape of the scene
};

/// Camera rays through the film positions ((px + u1) / width, (py + u2) / height) of a packet's
/// lanes (pixel coordinates px, py; row 0 = top), into the ray part of `rays`.
void camera_rays(const Camera& camera, int width, int height, const float* px, const float* py, const float* u1,
                 const float* u2, RayHitPacket* rays);
/// The mirror pass: the directions (dx, dy, dz) reflected about the hits' shading normals (unit:
/// rx, ry, rz), and rays along them from the hits into the ray part of `rays`.
void mirror_rays(const HitLanes& hits, const float* dx, const float* dy, const float* dz, float* rx, float* ry,
                 float* rz, RayHitPacket* rays);
/// The albedo pass: the material colour of each hit (textured: times max(r, g, b) of its texture
/// at the hit, bilinear) into ar, ag, ab for the lanes with hits.shape >= 0.
void albedo_lanes(const PathTracer& tracer, const HitLanes& hits, float* ar, float* ag, float* ab);
/// Seeds the lanes' generators from (seed, pixel[i], sample[i]) and draws n uniforms per lane
/// into u[0..n) from the lanes with draw[i] != 0.
void seed_and_draw(RngLanes* rng, uint64_t seed, const uint64_t* pixel, const uint64_t* sample, const int* draw, int n,
                   float (*u)[kPacketWidth]);
/// n uniforms per lane into u[0..n) from the lanes with draw[i] != 0.
void draw_uniforms(RngLanes* rng, const int* draw, int n, float (*u)[kPacketWidth]);

/// The shadows pass's rays to light li from a packet's first hits (uniforms u1, u2 per lane):
/// test (1 / 0), in: the lanes to sample; out: those with a usable sample above the horizon of
/// the shading normal; the shadow rays in `rays`.
void light_visibility_rays(const LightTable& lights, int li, const HitLanes& hits, const float* u1, const float* u2,
                           float* test, ShadowRays* rays);

// Test hooks: the kernels of the renderer on n inputs (arrays of 3-vectors are xyz-interleaved).
/// The BSDF at n direction pairs (shading frame, z = normal): f_diffuse (3n), f_specular (n),
/// pdf_diffuse, pdf_specular (n), as the path tracer evaluates it.
void bsdf_eval_lanes(const Vec3& albedo, const MaterialLobes& m, int n, const float* wo, const float* wi,
                     float* f_diffuse, float* f_specular, float* pdf_diffuse, float* pdf_specular);
/// n BSDF samples drawn as a path vertex with shading normal +z draws them, from the uniforms
/// u (3n: lobe choice, two for the direction): wi (3n), the throughput weight f cos / pdf (3n),
/// pdf (the mixture's) and pdf_diffuse (n), all 0 where no direction was sampled, and the lobe
/// chosen (1 = diffuse).
void bsdf_sample_lanes(const Vec3& albedo, const MaterialLobes& m, int n, const float* wo, const float* u,
                       float* wi, float* weight, float* pdf, float* pdf_diffuse, float* diffuse_lobe);
/// n samples of light li from points p (3n) with uniforms u (2n): unit direction w (3n), point
/// q (3n), solid-angle pdf and ok (1 where usable).
void light_sample_lanes(const LightTable& lights, int li, int n, const float* p, const float* u, float* w, float* q,
                        float* pdf, float* ok);
/// The solid-angle density of directions w (3n) from points p (3n) that reach light li at dist (n).
void light_pdf_lanes(const LightTable& lights, int li, int n, const float* p, const float* w, const float* dist,
                     float* pdf);

}  // namespace cnsr
