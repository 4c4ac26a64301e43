#include "integrator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "sampling.h"
#include "shading.h"

#if defined(__SSE__) || defined(_M_X64)
#include <pmmintrin.h>
#include <xmmintrin.h>
#define CNSR_HAVE_MXCSR 1
#endif

namespace cnsr {

namespace {

constexpr int kLanes = Scene::kPacket;

/// Renders all samples of the pixels of one tile, kLanes (pixel, sample) pairs at a time, and
/// writes the per-pass averages.
class TileRenderer {
public:
    TileRenderer(const Scene& scene, const Camera& camera, const RenderOptions& opt, RenderResult* result)
        : scene_(scene), camera_(camera), opt_(opt), result_(result), tracer_(scene, opt) {
        const PassSet& ps = opt.passes;
        need_shading_ = ps.needs_shading();
        need_mirror_trace_ = ps.any({kMirrorHit, kMirrorNormal});
        need_gbuffer_ = ps.any({kPosition, kNormal, kDepth, kId, kAlbedo, kRoughness, kMirror}) || need_mirror_trace_ ||
                        ps.any({kShadows, kAo});
    }

    /// Renders the tile; returns early (leaving it incomplete) once *stop becomes true.
    void render_tile(int x0, int y0, int x1, int y1, const std::atomic<bool>* stop = nullptr) const {
        const int tw = x1 - x0, th = y1 - y0;
        const int npix = tw * th;
        std::vector<double> acc(size_t(npix) * kNumPasses * 3, 0.0);
        const int spp = opt_.spp;
        const int64_t items = int64_t(npix) * spp;  // (pixel, sample) pairs, pixel-major

        Rng rng[kLanes];
        Ray ray[kLanes];
        Vec3 dir[kLanes];
        SurfaceHit hit[kLanes];
        bool active[kLanes], found[kLanes], shade[kLanes];
        int lpix[kLanes], lsample[kLanes];
        ShadingSample ss[kLanes];
        LaneState lanes{};  // the path tracer's working memory, zeroed once per tile

        for (int64_t base = 0; base < items; base += kLanes) {
            if (stop && (base & 1023) == 0 && stop->load(std::memory_order_relaxed)) return;
            for (int i = 0; i < kLanes; ++i) {
                const int64_t item = base + i;
                active[i] = item < items;
                if (!active[i]) continue;
                lpix[i] = int(item / spp);
                lsample[i] = int(item % spp);
                const int px = x0 + lpix[i] % tw, py = y0 + lpix[i] / tw;
                const uint64_t pixel = uint64_t(py) * uint64_t(opt_.width) + uint64_t(px);
                // Two independent streams: the path's, and one for the auxiliary G-buffer rays, so
                // that beauty does not depend on which other passes are requested.
                rng[i] = Rng(opt_.seed, pixel, uint64_t(lsample[i]));
                float fx = (float(px) + rng[i].uniform()) / float(opt_.width);
                float fy = (float(py) + rng[i].uniform()) / float(opt_.height);
                ray[i] = camera_.generate_ray(fx, fy, float(opt_.width) / float(opt_.height));
                dir[i] = ray[i].d;
            }
            scene_.intersect_packet(ray, active, !opt_.hide_lights, hit, found, /*coherent=*/true);
            double* lacc[kLanes];
            uint64_t lpixel[kLanes], lsamp[kLanes];
            for (int i = 0; i < kLanes; ++i) {
                shade[i] = false;
                if (!active[i]) continue;
                double* a = lacc[i] = &acc[size_t(lpix[i]) * kNumPasses * 3];
                const int px = x0 + lpix[i] % tw, py = y0 + lpix[i] / tw;
                lpixel[i] = uint64_t(py) * uint64_t(opt_.width) + uint64_t(px);
                lsamp[i] = uint64_t(lsample[i]);
                if (!found[i]) {  // geometric buffers are 0 on a miss
                    if (need_shading_) {
                        add(a, kBeauty, opt_.background);
                        add(a, kDirect, opt_.background);
                        add(a, kDiffuse, opt_.background);
                    }
                    continue;
                }
                shade[i] = need_shading_;
            }
            if (need_gbuffer_) gbuffer_packet(ray, hit, found, lpixel, lsamp, lacc);
            if (!need_shading_) continue;
            tracer_.trace(dir, hit, shade, rng, ss, &lanes);
            for (int i = 0; i < kLanes; ++i) {
                if (!shade[i]) continue;
                if (!is_finite(ss[i].beauty) || !is_finite(ss[i].direct) || !is_finite(ss[i].diffuse)) continue;
                double* a = &acc[size_t(lpix[i]) * kNumPasses * 3];
                add(a, kBeauty, ss[i].beauty);
                add(a, kDirect, ss[i].direct);
                add(a, kDiffuse, ss[i].diffuse);
            }
        }

        const PassSet& ps = opt_.passes;
        const double inv = 1.0 / double(spp);
        for (int pix = 0; pix < npix; ++pix) {
            double* a = &acc[size_t(pix) * kNumPasses * 3];
            for (int c = 0; c < 3; ++c) {  // derived passes
                a[kIndirect * 3 + c] = a[kBeauty * 3 + c] - a[kDirect * 3 + c];
                a[kSpecular * 3 + c] = a[kBeauty * 3 + c] - a[kDiffuse * 3 + c];
            }
            const int px = x0 + pix % tw, py = y0 + pix / tw;
            for (int p = 0; p < kNumPasses; ++p) {
                if (!ps.has(PassId(p))) continue;
                const int ch = kPassTable[p].channels;
                float* dst = result_->buffers[p].data() + (size_t(py) * opt_.width + px) * ch;
                for (int c = 0; c < ch; ++c) dst[c] = float(a[p * 3 + c] * inv);
            }
        }
    }

private:
    static void add(double* a, PassId p, const Vec3& v) {
        a[p * 3 + 0] += v.x;
        a[p * 3 + 1] += v.y;
        a[p * 3 + 2] += v.z;
    }

    /// The G-buffer passes of the lanes whose camera ray hit something (has[i]); acc[i] is the
    /// lane's pixel accumulator. Auxiliary rays go to Embree as packets.
    void gbuffer_packet(const Ray* ray, const SurfaceHit* h, const bool* has, const uint64_t* pixel,
                        const uint64_t* sample, double* const* acc) const {
        const PassSet& ps = opt_.passes;
        const bool hidden = opt_.hide_lights;
        const Material* mat[kLanes];
        Rng aux[kLanes];
        for (int i = 0; i < kLanes; ++i) {
            if (!has[i]) continue;
            double* a = acc[i];
            const Material& m = scene_.material(scene_.shape(h[i].shape).material);
            mat[i] = &m;
            aux[i] = Rng(opt_.seed ^ 0xa5a5a5a5a5a5a5a5ULL, pixel[i], sample[i]);
            if (ps.has(kPosition)) add(a, kPosition, h[i].p);
            if (ps.has(kNormal)) add(a, kNormal, h[i].ns);
            if (ps.has(kDepth)) a[kDepth * 3] += h[i].t;
            if (ps.has(kId)) a[kId * 3] += m.id_norm;
            if (ps.has(kAlbedo) && !m.is_mirror_like()) add(a, kAlbedo, scene_.albedo(m, h[i]));
            if (ps.has(kRoughness)) a[kRoughness * 3] += m.roughness;
        }
        if (ps.any({kMirror, kMirrorHit, kMirrorNormal})) {
            Ray mr[kLanes];
            for (int i = 0; i < kLanes; ++i) {
                if (!has[i]) continue;
                Vec3 r = normalize(reflect(ray[i].d, h[i].ns));
                if (ps.has(kMirror)) add(acc[i], kMirror, r);
                mr[i].o = offset_ray_origin(h[i], r);
                mr[i].d = r;
                mr[i].tnear = 0.f;
                mr[i].tfar = 1e30f;
            }
            if (need_mirror_trace_) {
                SurfaceHit mh[kLanes];
                bool found[kLanes];
                scene_.intersect_packet(mr, has, true, mh, found);
                for (int i = 0; i < kLanes; ++i) {
                    if (!found[i]) continue;
                    if (ps.has(kMirrorHit)) add(acc[i], kMirrorHit, mh[i].p);
                    if (ps.has(kMirrorNormal)) add(acc[i], kMirrorNormal, mh[i].ns);
                }
            }
        }
        if (ps.has(kShadows)) {
            // fraction of lights visible from the hit, one shadow ray per light; 1 on emitters
            const int nlights = int(tracer_.lights.sphere.size());
            int visible[kLanes] = {};
            alignas(64) HitLanes hl;
            alignas(64) float test[kLanes], u1[kLanes], u2[kLanes];
            alignas(64) ShadowRays rays;
            bool occluded[kLanes];
            for (int i = 0; i < kLanes; ++i) {
                const SurfaceHit& hi = h[i];  // (lanes without a hit: values left by earlier ones)
                hl.px[i] = hi.p.x, hl.py[i] = hi.p.y, hl.pz[i] = hi.p.z;
                hl.gx[i] = hi.ng.x, hl.gy[i] = hi.ng.y, hl.gz[i] = hi.ng.z;
                hl.nx[i] = hi.ns.x, hl.ny[i] = hi.ns.y, hl.nz[i] = hi.ns.z;
                u1[i] = u2[i] = 0.f;
            }
            for (int li = 0; li < nlights; ++li) {
                for (int i = 0; i < kLanes; ++i) {
                    test[i] = has[i] && !mat[i]->is_emissive() ? 1.f : 0.f;
                    if (test[i] == 0.f) continue;
                    u1[i] = aux[i].uniform();
                    u2[i] = aux[i].uniform();
                }
                light_visibility_rays(tracer_.lights, li, hl, u1, u2, test, &rays);
                scene_.occluded_lanes(rays, !hidden, occluded);
                for (int i = 0; i < kLanes; ++i)
                    if (test[i] != 0.f && !occluded[i]) ++visible[i];
            }
            for (int i = 0; i < kLanes; ++i) {
                if (!has[i]) continue;
                if (mat[i]->is_emissive())
                    acc[i][kShadows * 3] += 1.0;
                else if (nlights > 0)
                    acc[i][kShadows * 3] += double(visible[i]) / double(nlights);
            }
        }
        if (ps.has(kAo)) {
            // one cosine-weighted ray of length 1 about the normal facing the camera
            Vec3 o[kLanes], w[kLanes];
            float tfar[kLanes];
            bool occluded[kLanes];
            for (int i = 0; i < kLanes; ++i) {
                if (!has[i]) continue;
                Vec3 n = dot(h[i].ns, ray[i].d) < 0.f ? h[i].ns : -h[i].ns;
                Frame f(n);
                float u1 = aux[i].uniform(), u2 = aux[i].uniform();
                w[i] = f.to_world(sample_cosine_hemisphere(u1, u2));
                o[i] = offset_ray_origin(h[i], w[i]);
                tfar[i] = 1.f;
            }
            scene_.occluded_packet(o, w, tfar, has, !hidden, occluded);
            for (int i = 0; i < kLanes; ++i)
                if (has[i] && !occluded[i]) acc[i][kAo * 3] += 1.0;
        }
    }

    const Scene& scene_;
    const Camera& camera_;
    const RenderOptions& opt_;
    RenderResult* result_;
    PathTracer tracer_;
    bool need_shading_, need_mirror_trace_, need_gbuffer_;
};

/// Flush-to-zero / denormals-are-zero for the lifetime of the object (restored afterwards, since
/// one worker is the caller's thread). Embree asks for it: denormals slow traversal severely.
class DenormalsOff {
public:
    DenormalsOff() {
#ifdef CNSR_HAVE_MXCSR
        saved_ = _mm_getcsr();
        _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
        _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
    }
    ~DenormalsOff() {
#ifdef CNSR_HAVE_MXCSR
        _mm_setcsr(saved_);
#endif
    }

private:
    unsigned saved_ = 0;
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

    TileRenderer tr(scene, camera, options, result);
    constexpr int kTile = 8;
    const int tiles_x = (options.width + kTile - 1) / kTile;
    const int tiles_y = (options.height + kTile - 1) / kTile;
    const int ntiles = tiles_x * tiles_y;
    int nthreads = options.threads > 0 ? options.threads : int(std::thread::hardware_concurrency());
    nthreads = std::max(1, std::min(nthreads, ntiles));

    std::atomic<int> next_tile{0};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> rays_intersect{0}, rays_occluded{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&]() {
        DenormalsOff ftz;
        RayCounter& counter = thread_ray_counter();
        const RayCounter start = counter;
        try {
            for (;;) {
                int t = next_tile.fetch_add(1);
                if (t >= ntiles) break;
                int x0 = (t % tiles_x) * kTile, y0 = (t / tiles_x) * kTile;
                int x1 = std::min(x0 + kTile, options.width), y1 = std::min(y0 + kTile, options.height);
                tr.render_tile(x0, y0, x1, y1, &stop);
                if (stop.load(std::memory_order_relaxed)) break;
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            next_tile = ntiles;
            stop = true;
        }
        rays_intersect += counter.intersect - start.intersect;
        rays_occluded += counter.occluded - start.occluded;
    };
    bool cancelled = false;
    if (options.should_cancel) {
        // all workers in the pool; this thread polls for cancellation (e.g. Ctrl-C in Python)
        std::mutex m;
        std::condition_variable cv;
        int running = nthreads;
        std::vector<std::thread> pool;
        pool.reserve(nthreads);
        for (int i = 0; i < nthreads; ++i)
            pool.emplace_back([&] {
                worker();
                std::lock_guard<std::mutex> lock(m);
                if (--running == 0) cv.notify_all();
            });
        {
            std::unique_lock<std::mutex> lock(m);
            while (running > 0) {
                if (cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return running == 0; })) break;
                lock.unlock();
                if (!cancelled && options.should_cancel()) {
                    cancelled = true;
                    stop = true;  // workers leave their tiles within ~1000 samples
                }
                lock.lock();
            }
        }
        for (auto& t : pool) t.join();
    } else if (nthreads == 1) {
        worker();
    } else {
        std::vector<std::thread> pool;
        pool.reserve(nthreads - 1);
        for (int i = 0; i < nthreads - 1; ++i) pool.emplace_back(worker);
        worker();
        for (auto& t : pool) t.join();
    }
    if (error) std::rethrow_exception(error);
    if (cancelled) throw RenderCancelled();
    result->rays_intersect = rays_intersect;
    result->rays_occluded = rays_occluded;
}

}  // namespace cnsr
