#include "integrator.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "sampling.h"

namespace cnsr {

namespace {

constexpr float kClamp = 25.f;  // firefly clamp of the reference, per channel

/// Per-sample estimates of the shading passes.
struct ShadingSample {
    Vec3 beauty, direct, diffuse;
};

/// Radiance estimates for the path starting with the camera ray `ray`, whose first hit is `h`.
///   beauty:  full path-traced radiance (emission + NEE/MIS at every vertex),
///   direct:  directly seen emission + everything arriving after exactly one scattering event,
///   diffuse: the same estimator with every BSDF restricted to its diffuse lobe, continued only
///            while the sampled lobes were diffuse.
class PathTracer {
public:
    PathTracer(const Scene& scene, const RenderOptions& opt) : scene_(scene), opt_(opt) {}

    ShadingSample trace(const Ray& camera_ray, const SurfaceHit& first_hit, Rng& rng) const {
        ShadingSample out{Vec3(0.f), Vec3(0.f), Vec3(0.f)};
        const auto& lights = scene_.lights();
        const int nlights = int(lights.size());
        const float light_select_pdf = nlights > 0 ? 1.f / float(nlights) : 0.f;

        SurfaceHit h = first_hit;
        Vec3 d = camera_ray.d;
        Vec3 beta(1.f), beta_d(1.f);  // throughput of the full and the diffuse-only estimator
        bool diffuse_path = true;
        float prev_pdf = 0.f, prev_pdf_d = 0.f;  // BSDF pdfs of the direction that reached h
        Vec3 prev_p;

        for (int vertex = 1;; ++vertex) {
            const Shape& shape = scene_.shape(h.shape);
            const Material& m = scene_.material(shape.material);
            const bool front = dot(h.ns, d) < 0.f;
            if (m.is_emissive()) {
                if (front) {
                    const Vec3& Le = shape.radiance;
                    if (vertex == 1) {  // directly visible emitters are not clamped
                        out.beauty += Le;
                        out.direct += Le;
                        out.diffuse += Le;
                    } else {
                        float pl = 0.f;
                        if (opt_.nee && shape.light >= 0)
                            pl = light_select_pdf * light_pdf(lights[shape.light], prev_p, d, h.t);
                        Vec3 c = clamp(Le * balance_heuristic(prev_pdf, pl), 0.f, kClamp);
                        out.beauty += beta * c;
                        if (vertex == 2) out.direct += beta * c;
                        if (diffuse_path) {
                            Vec3 cd = clamp(Le * balance_heuristic(prev_pdf_d, pl), 0.f, kClamp);
                            out.diffuse += beta_d * cd;
                        }
                    }
                }
                break;  // paths end at emitters
            }
            if (!front) break;                  // one-sided surfaces: the back side is black
            if (vertex > opt_.bounces) break;  // last vertex: no NEE, no continuation

            Frame frame(h.ns);
            const Vec3 wo = frame.to_local(-d);
            Bsdf bsdf(scene_.albedo(m, h), m.spec_weight(), m.roughness, m.ior);

            // Next-event estimation: one uniformly chosen light, one shadow ray.
            if (opt_.nee && nlights > 0) {
                float ul = rng.uniform();
                int li = std::min(int(ul * nlights), nlights - 1);
                float u1 = rng.uniform(), u2 = rng.uniform();
                LightSample ls;
                if (sample_light(lights[li], h.p, u1, u2, &ls)) {
                    Vec3 wi = frame.to_local(ls.wi);
                    if (wi.z > 0.f) {
                        BsdfEval e = bsdf.eval(wo, wi);
                        if (e.pdf() > 0.f || !is_black(e.f())) {
                            if (!scene_.segment_occluded(h, ls.point, true, li)) {
                                float pl = light_select_pdf * ls.pdf;
                                Vec3 c = clamp(e.f() * ls.Le * (wi.z * balance_heuristic(pl, e.pdf()) / pl), 0.f,
                                               kClamp);
                                out.beauty += beta * c;
                                if (vertex == 1) out.direct += beta * c;
                                if (diffuse_path) {
                                    Vec3 cd = clamp(e.f_diffuse * ls.Le *
                                                        (wi.z * balance_heuristic(pl, e.pdf_diffuse) / pl),
                                                    0.f, kClamp);
                                    out.diffuse += beta_d * cd;
                                }
                            }
                        }
                    }
                }
            }

            // Continue the path by sampling the BSDF.
            float ulobe = rng.uniform(), u1 = rng.uniform(), u2 = rng.uniform();
            BsdfSample bs;
            if (!bsdf.sample(wo, ulobe, u1, u2, &bs)) break;
            const float cos_i = bs.wi.z;
            beta *= bs.eval.f() * (cos_i / bs.eval.pdf());
            if (diffuse_path) {
                if (bs.diffuse_lobe && bs.eval.pdf_diffuse > 0.f)
                    beta_d *= bs.eval.f_diffuse * (cos_i / bs.eval.pdf_diffuse);
                else
                    diffuse_path = false;
            }
            // without light sampling the emitter-hit weight is 1 (pl = 0 in the balance heuristic)
            prev_pdf = bs.eval.pdf();
            prev_pdf_d = bs.eval.pdf_diffuse;
            prev_p = h.p;
            if (is_black(beta) && (!diffuse_path || is_black(beta_d))) break;

            Vec3 wi_world = frame.to_world(bs.wi);
            Ray next;
            next.o = offset_ray_origin(h, wi_world);
            next.d = wi_world;
            next.tnear = 0.f;
            next.tfar = 1e30f;
            SurfaceHit nh;
            if (!scene_.intersect(next, true, &nh)) {
                const Vec3& sky = opt_.background;
                out.beauty += beta * sky;
                if (vertex == 1) out.direct += beta * sky;
                if (diffuse_path) out.diffuse += beta_d * sky;
                break;
            }
            h = nh;
            d = wi_world;
        }
        return out;
    }

private:
    const Scene& scene_;
    const RenderOptions& opt_;
};

/// Renders all samples of one pixel and writes the per-pass averages.
class PixelRenderer {
public:
    PixelRenderer(const Scene& scene, const Camera& camera, const RenderOptions& opt, RenderResult* result)
        : scene_(scene), camera_(camera), opt_(opt), result_(result), tracer_(scene, opt) {
        const PassSet& ps = opt.passes;
        need_shading_ = ps.needs_shading();
        need_mirror_trace_ = ps.any({kMirrorHit, kMirrorNormal});
        need_gbuffer_ = ps.any({kPosition, kNormal, kDepth, kId, kAlbedo, kRoughness, kMirror}) || need_mirror_trace_ ||
                        ps.any({kShadows, kAo});
    }

    void render_pixel(int px, int py) const {
        double acc[kNumPasses][3] = {};
        const PassSet& ps = opt_.passes;
        const uint64_t pixel = uint64_t(py) * uint64_t(opt_.width) + uint64_t(px);
        const auto& lights = scene_.lights();
        const bool hidden = opt_.hide_lights;

        auto add = [&](PassId p, const Vec3& v) {
            acc[p][0] += v.x;
            acc[p][1] += v.y;
            acc[p][2] += v.z;
        };

        for (int s = 0; s < opt_.spp; ++s) {
            // Two independent streams: the path's, and one for the auxiliary G-buffer rays, so that
            // beauty does not depend on which other passes are requested.
            Rng rng(opt_.seed, pixel, uint64_t(s));
            float fx = (float(px) + rng.uniform()) / float(opt_.width);
            float fy = (float(py) + rng.uniform()) / float(opt_.height);
            Ray ray = camera_.generate_ray(fx, fy, float(opt_.width) / float(opt_.height));
            SurfaceHit h;
            bool hit = scene_.intersect(ray, !hidden, &h);
            if (!hit) {
                if (need_shading_) {
                    add(kBeauty, opt_.background);
                    add(kDirect, opt_.background);
                    add(kDiffuse, opt_.background);
                }
                continue;  // geometric buffers are 0 on a miss
            }
            const Shape& shape = scene_.shape(h.shape);
            const Material& m = scene_.material(shape.material);

            if (need_gbuffer_) {
                Rng aux(opt_.seed ^ 0xa5a5a5a5a5a5a5a5ULL, pixel, uint64_t(s));
                if (ps.has(kPosition)) add(kPosition, h.p);
                if (ps.has(kNormal)) add(kNormal, h.ns);
                if (ps.has(kDepth)) acc[kDepth][0] += h.t;
                if (ps.has(kId)) acc[kId][0] += m.id_norm;
                if (ps.has(kAlbedo) && !m.is_mirror_like()) add(kAlbedo, scene_.albedo(m, h));
                if (ps.has(kRoughness)) acc[kRoughness][0] += m.roughness;
                if (ps.any({kMirror, kMirrorHit, kMirrorNormal})) {
                    Vec3 r = normalize(reflect(ray.d, h.ns));
                    if (ps.has(kMirror)) add(kMirror, r);
                    if (need_mirror_trace_) {
                        Ray mr;
                        mr.o = offset_ray_origin(h, r);
                        mr.d = r;
                        mr.tnear = 0.f;
                        mr.tfar = 1e30f;
                        SurfaceHit mh;
                        if (scene_.intersect(mr, true, &mh)) {
                            if (ps.has(kMirrorHit)) add(kMirrorHit, mh.p);
                            if (ps.has(kMirrorNormal)) add(kMirrorNormal, mh.ns);
                        }
                    }
                }
                if (ps.has(kShadows)) {
                    // fraction of lights visible from the hit, one shadow ray per light
                    if (m.is_emissive()) {
                        acc[kShadows][0] += 1.0;
                    } else if (!lights.empty()) {
                        int visible = 0;
                        for (int li = 0; li < int(lights.size()); ++li) {
                            float u1 = aux.uniform(), u2 = aux.uniform();
                            LightSample ls;
                            if (!sample_light(lights[li], h.p, u1, u2, &ls)) continue;
                            if (dot(ls.wi, h.ns) <= 0.f) continue;  // below the surface
                            if (!scene_.segment_occluded(h, ls.point, !hidden, li)) ++visible;
                        }
                        acc[kShadows][0] += double(visible) / double(lights.size());
                    }
                }
                if (ps.has(kAo)) {
                    // one cosine-weighted ray of length 1 about the normal facing the camera
                    Vec3 n = dot(h.ns, ray.d) < 0.f ? h.ns : -h.ns;
                    Frame f(n);
                    float u1 = aux.uniform(), u2 = aux.uniform();
                    Vec3 w = f.to_world(sample_cosine_hemisphere(u1, u2));
                    Vec3 o = offset_ray_origin(h, w);
                    if (!scene_.occluded(o, w, 1.f, !hidden)) acc[kAo][0] += 1.0;
                }
            }

            if (need_shading_) {
                ShadingSample ss = tracer_.trace(ray, h, rng);
                if (!is_finite(ss.beauty) || !is_finite(ss.direct) || !is_finite(ss.diffuse)) continue;
                add(kBeauty, ss.beauty);
                add(kDirect, ss.direct);
                add(kDiffuse, ss.diffuse);
            }
        }

        // derived passes
        for (int c = 0; c < 3; ++c) {
            acc[kIndirect][c] = acc[kBeauty][c] - acc[kDirect][c];
            acc[kSpecular][c] = acc[kBeauty][c] - acc[kDiffuse][c];
        }
        const double inv = 1.0 / double(opt_.spp);
        for (int p = 0; p < kNumPasses; ++p) {
            if (!ps.has(PassId(p))) continue;
            const int ch = kPassTable[p].channels;
            float* dst = result_->buffers[p].data() + (size_t(py) * opt_.width + px) * ch;
            for (int c = 0; c < ch; ++c) dst[c] = float(acc[p][c] * inv);
        }
    }

private:
    const Scene& scene_;
    const Camera& camera_;
    const RenderOptions& opt_;
    RenderResult* result_;
    PathTracer tracer_;
    bool need_shading_, need_mirror_trace_, need_gbuffer_;
};

}  // namespace

void render(const Scene& scene, const Camera& camera, const RenderOptions& options, RenderResult* result) {
    if (!scene.committed()) throw std::runtime_error("render: the scene is not committed");
    if (options.width <= 0 || options.height <= 0) throw std::invalid_argument("render: image size must be positive");
    if (options.spp <= 0) throw std::invalid_argument("render: spp must be positive");
    if (options.bounces < 0) throw std::invalid_argument("render: bounces must be >= 0");

    for (int p = 0; p < kNumPasses; ++p) {
        if (options.passes.has(PassId(p)))
            result->buffers[p].assign(size_t(options.width) * options.height * kPassTable[p].channels, 0.f);
        else
            result->buffers[p].clear();
    }

    PixelRenderer pr(scene, camera, options, result);
    constexpr int kTile = 8;
    const int tiles_x = (options.width + kTile - 1) / kTile;
    const int tiles_y = (options.height + kTile - 1) / kTile;
    const int ntiles = tiles_x * tiles_y;
    int nthreads = options.threads > 0 ? options.threads : int(std::thread::hardware_concurrency());
    nthreads = std::max(1, std::min(nthreads, ntiles));

    std::atomic<int> next_tile{0};
    std::atomic<uint64_t> rays_intersect{0}, rays_occluded{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&]() {
        RayCounter& counter = thread_ray_counter();
        const RayCounter start = counter;
        try {
            for (;;) {
                int t = next_tile.fetch_add(1);
                if (t >= ntiles) break;
                int x0 = (t % tiles_x) * kTile, y0 = (t / tiles_x) * kTile;
                int x1 = std::min(x0 + kTile, options.width), y1 = std::min(y0 + kTile, options.height);
                for (int y = y0; y < y1; ++y)
                    for (int x = x0; x < x1; ++x) pr.render_pixel(x, y);
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            next_tile = ntiles;
        }
        rays_intersect += counter.intersect - start.intersect;
        rays_occluded += counter.occluded - start.occluded;
    };
    if (nthreads == 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        pool.reserve(nthreads - 1);
        for (int i = 0; i < nthreads - 1; ++i) pool.emplace_back(worker);
        worker();
        for (auto& t : pool) t.join();
    }
    if (error) std::rethrow_exception(error);
    result->rays_intersect = rays_intersect;
    result->rays_occluded = rays_occluded;
}

}  // namespace cnsr
