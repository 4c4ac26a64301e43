#include "shading.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace cnsr {

// The lane loops for the x86-64 baseline (SSE2; any architecture elsewhere) ...
namespace lanes_baseline {
#include "shading_lanes.inc"
}  // namespace lanes_baseline

// ... and for AVX2 (8 floats per instruction). Only the code between push/pop is built for AVX2;
// the headers above stay baseline, so no AVX2 copy of a shared inline function can be picked by
// the linker for the rest of the library. FMA stays off: results are the baseline's, bit for bit.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(CNSR_NO_AVX2_BUILD)
#define CNSR_HAVE_AVX2_LANES 1
#pragma GCC push_options
#pragma GCC target("avx2")
namespace lanes_avx2 {
#include "shading_lanes.inc"
}  // namespace lanes_avx2
#pragma GCC pop_options
#endif

namespace {

bool use_avx2() {
#ifdef CNSR_HAVE_AVX2_LANES
    static const bool yes = __builtin_cpu_supports("avx2") && std::getenv("CNSR_NO_AVX2") == nullptr;
    return yes;
#else
    return false;
#endif
}

}  // namespace

LightTable::LightTable(const std::vector<Light>& lights) {
    for (const Light& l : lights) {
        const bool sph = l.type == LightType::Sphere;
        sphere.push_back(sph ? 1.f : 0.f);
        const Vec3& p = sph ? l.center : l.corner;
        px.push_back(p.x), py.push_back(p.y), pz.push_back(p.z);
        r2.push_back(l.radius * l.radius);
        e1x.push_back(l.e1.x), e1y.push_back(l.e1.y), e1z.push_back(l.e1.z);
        e2x.push_back(l.e2.x), e2y.push_back(l.e2.y), e2z.push_back(l.e2.z);
        nx.push_back(l.normal.x), ny.push_back(l.normal.y), nz.push_back(l.normal.z);
        area.push_back(l.area);
        lr.push_back(l.radiance.x), lg.push_back(l.radiance.y), lb.push_back(l.radiance.z);
    }
}

PathTracer::PathTracer(const Scene& scene_, const RenderOptions& opt_)
    : scene(scene_), opt(opt_), need_diffuse(opt_.passes.any({kDiffuse, kSpecular})), lights(scene_.lights()) {}

void PathTracer::trace(const Vec3* dir, const SurfaceHit* first_hit, const bool* active, Rng* rng,
                       ShadingSample* out) const {
#ifdef CNSR_HAVE_AVX2_LANES
    if (use_avx2()) return lanes_avx2::trace_lanes(*this, dir, first_hit, active, rng, out);
#endif
    lanes_baseline::trace_lanes(*this, dir, first_hit, active, rng, out);
}

const char* PathTracer::isa() { return use_avx2() ? "avx2" : "baseline"; }

}  // namespace cnsr
