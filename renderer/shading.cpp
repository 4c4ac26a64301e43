#include "shading.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "simd.h"

namespace cnsr {

// The lane loops for the x86-64 baseline (SSE2; any architecture elsewhere) ...
namespace lanes_baseline {
#include "shading_lanes.inc"
}  // namespace lanes_baseline

// ... and for AVX2 (8 floats per instruction). Only the code between push/pop is built for AVX2;
// the headers above stay baseline, so no AVX2 copy of a shared inline function can be picked by
// the linker for the rest of the library. FMA stays off: results are the baseline's, bit for bit.
#ifdef CNSR_HAVE_AVX2_LANES
#pragma GCC push_options
#pragma GCC target("avx2")
namespace lanes_avx2 {
#include "shading_lanes.inc"
}  // namespace lanes_avx2
#pragma GCC pop_options
#endif

LightTable::LightTable(const std::vector<Light>& lights) {
    for (const Light& l : lights) {
        const bool sph = l.type == LightType::Sphere;
        sphere.push_back(sph ? 1.f : 0.f);
        const Vec3& p = sph ? l.center : l.corner;
        px.push_back(p.x), py.push_back(p.y), pz.push_back(p.z);
        radius.push_back(l.radius);
        r2.push_back(l.radius * l.radius);
        e1x.push_back(l.e1.x), e1y.push_back(l.e1.y), e1z.push_back(l.e1.z);
        e2x.push_back(l.e2.x), e2y.push_back(l.e2.y), e2z.push_back(l.e2.z);
        nx.push_back(l.normal.x), ny.push_back(l.normal.y), nz.push_back(l.normal.z);
        area.push_back(l.area);
        lr.push_back(l.radiance.x), lg.push_back(l.radiance.y), lb.push_back(l.radiance.z);
        const uint32_t bit = light_mask_bit(int(shadow_mask.size()));
        shadow_mask.push_back(bit != 1u ? ~bit : 0xFFFFFFFFu);
    }
}

MaterialLobes material_lobes(const Material& m) {
    return MaterialLobes{m.spec_weight(), std::max(m.roughness * m.roughness, 1e-4f), m.ior};
}

PathTracer::PathTracer(const Scene& scene_, const RenderOptions& opt_)
    : scene(scene_), opt(opt_), need_diffuse(opt_.passes.any({kDiffuse, kSpecular})), lights(scene_.lights()) {
    shapes.reserve(scene.num_shapes());
    for (int i = 0; i < scene.num_shapes(); ++i) {
        const Shape& sh = scene.shape(i);
        const Material& m = scene.material(sh.material);
        ShadeShape s;
        s.albedo = m.color;
        s.radiance = sh.radiance;
        const MaterialLobes lobes = material_lobes(m);
        s.spec = lobes.spec;
        s.alpha = lobes.alpha;
        s.ior = lobes.ior;
        s.material = sh.material;
        s.light = sh.light;
        s.emissive = m.is_emissive();
        s.textured = m.texture >= 0;
        shapes.push_back(s);
    }
}

void PathTracer::trace(const Vec3* dir, const SurfaceHit* first_hit, const bool* active, Rng* rng,
                       ShadingSample* out, LaneState* state) const {
#ifdef CNSR_HAVE_AVX2_LANES
    if (use_avx2_lanes()) return lanes_avx2::trace_lanes(*this, dir, first_hit, active, rng, out, state);
#endif
    lanes_baseline::trace_lanes(*this, dir, first_hit, active, rng, out, state);
}

// The lane kernels of the instruction set chosen at run time.
#ifdef CNSR_HAVE_AVX2_LANES
#define CNSR_LANES(call) (use_avx2_lanes() ? lanes_avx2::call : lanes_baseline::call)
#else
#define CNSR_LANES(call) (lanes_baseline::call)
#endif

void light_visibility_rays(const LightTable& lights, int li, const HitLanes& hits, const float* u1, const float* u2,
                           float* test, ShadowRays* rays) {
    if (lights.sphere[li] != 0.f)
        CNSR_LANES(light_visibility_rays<true>(lights, li, hits, u1, u2, test, *rays));
    else
        CNSR_LANES(light_visibility_rays<false>(lights, li, hits, u1, u2, test, *rays));
}

void bsdf_eval_lanes(const Vec3& albedo, const MaterialLobes& m, int n, const float* wo, const float* wi,
                     float* f_diffuse, float* f_specular, float* pdf_diffuse, float* pdf_specular) {
    CNSR_LANES(bsdf_eval_lanes(albedo, m, n, wo, wi, f_diffuse, f_specular, pdf_diffuse, pdf_specular));
}

void bsdf_sample_lanes(const Vec3& albedo, const MaterialLobes& m, int n, const float* wo, const float* u,
                       float* wi, float* weight, float* pdf, float* pdf_diffuse, float* diffuse_lobe) {
    CNSR_LANES(bsdf_sample_lanes(albedo, m, n, wo, u, wi, weight, pdf, pdf_diffuse, diffuse_lobe));
}

void light_sample_lanes(const LightTable& lights, int li, int n, const float* p, const float* u, float* w, float* q,
                        float* pdf, float* ok) {
    CNSR_LANES(light_sample_lanes(lights, li, n, p, u, w, q, pdf, ok));
}

void light_pdf_lanes(const LightTable& lights, int li, int n, const float* p, const float* w, const float* dist,
                     float* pdf) {
    CNSR_LANES(light_pdf_lanes(lights, li, n, p, w, dist, pdf));
}

}  // namespace cnsr
