#include "shading.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "simd.h"

namespace cnsr {

// The lane loops, for the x86-64 baseline (SSE2; any architecture elsewhere), AVX2 and AVX-512
// (simd.h: chosen at run time).
namespace lanes_baseline {
#include "shading_lanes.inc"
}  // namespace lanes_baseline
#ifdef CNSR_HAVE_WIDE_LANES
CNSR_BEGIN_AVX2
namespace lanes_avx2 {
#include "shading_lanes.inc"
}  // namespace lanes_avx2
CNSR_END_WIDE
CNSR_BEGIN_AVX512
namespace lanes_avx512 {
#include "shading_lanes.inc"
}  // namespace lanes_avx512
CNSR_END_WIDE
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
        shadow_mask.push_back(shadow_ray_mask(int(shadow_mask.size())));
    }
}

MaterialLobes material_lobes(const Material& m) {
    return MaterialLobes{m.spec_weight(), std::max(m.roughness * m.roughness, 1e-4f), m.ior};
}

PathTracer::PathTracer(const Scene& scene_, const RenderOptions& opt_)
    : scene(scene_), opt(opt_), need_diffuse(opt_.passes.any({kDiffuse, kSpecular})), lights(scene_.lights()) {
    for (int i = 0; i < scene.num_shapes(); ++i) {
        const Shape& sh = scene.shape(i);
        const Material& m = scene.material(sh.material);
        const MaterialLobes lobes = material_lobes(m);
        shapes.ar.push_back(m.color.x), shapes.ag.push_back(m.color.y), shapes.ab.push_back(m.color.z);
        shapes.lr.push_back(sh.radiance.x), shapes.lg.push_back(sh.radiance.y), shapes.lb.push_back(sh.radiance.z);
        shapes.spec.push_back(lobes.spec), shapes.alpha.push_back(lobes.alpha), shapes.ior.push_back(lobes.ior);
        shapes.emissive.push_back(m.is_emissive() ? 1.f : 0.f);
        shapes.textured.push_back(m.texture >= 0 ? 1.f : 0.f);
        shapes.material.push_back(sh.material);
        shapes.light.push_back(sh.light);
    }
}

#define CNSR_LANES(call) CNSR_LANE_DISPATCH(lanes, call)

void PathTracer::trace(const HitLanes& first, const float* dx, const float* dy, const float* dz, const int* active,
                       RngLanes* rng, ShadingLanes* out, LaneState* state) const {
    CNSR_LANES(trace_lanes(*this, first, dx, dy, dz, active, *rng, *out, *state));
}

void camera_rays(const Camera& camera, int width, int height, const float* px, const float* py, const float* u1,
                 const float* u2, RayHitPacket* rays) {
    CNSR_LANES(camera_rays(camera, width, height, px, py, u1, u2, *rays));
}

void mirror_rays(const HitLanes& hits, const float* dx, const float* dy, const float* dz, float* rx, float* ry,
                 float* rz, RayHitPacket* rays) {
    CNSR_LANES(mirror_rays(hits, dx, dy, dz, rx, ry, rz, *rays));
}

void albedo_lanes(const PathTracer& tracer, const HitLanes& hits, float* ar, float* ag, float* ab) {
    CNSR_LANES(albedo_lanes(tracer.scene, tracer.shapes, hits, ar, ag, ab));
}

void seed_and_draw(RngLanes* rng, uint64_t seed, const uint64_t* pixel, const uint64_t* sample, const int* draw, int n,
                   float (*u)[kPacketWidth]) {
    CNSR_LANES(seed_and_draw(*rng, seed, pixel, sample, draw, n, u));
}

void draw_uniforms(RngLanes* rng, const int* draw, int n, float (*u)[kPacketWidth]) {
    CNSR_LANES(draw_uniforms(*rng, draw, n, u));
}

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
