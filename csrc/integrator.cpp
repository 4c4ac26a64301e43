#include "integrator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
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
        // the sums kept per pixel: three per stored pass (the shading estimators when any shading
        // pass is asked for; the requested G-buffer passes); indirect and specular are derived
        row_ = 0;
        for (int p = 0; p < kNumPasses; ++p) {
            const bool shading = p == kBeauty || p == kDirect || p == kDiffuse;
            const bool derived = p == kIndirect || p == kSpecular;
            const bool stored = shading ? need_shading_ : (!derived && ps.has(PassId(p)));
            slot_[p] = stored ? row_ : -1;
            row_ += stored ? 3 : 0;
        }
    }

    /// Renders the tile; returns early (leaving it incomplete) once *stop becomes true. `check`
    /// (if set) is called about every 1000 samples.
    void render_tile(int x0, int y0, int x1, int y1, const std::atomic<bool>* stop = nullptr,
                     const std::function<void()>* check = nullptr) const {
        const int tw = x1 - x0, th = y1 - y0;
        const int npix = tw * th;
        std::vector<double> acc(size_t(npix) * row_, 0.0);
        const int spp = opt_.spp;
        const int64_t items = int64_t(npix) * spp;  // (pixel, sample) pairs, pixel-major

        alignas(64) RngLanes rng;
        alignas(64) RayHitPacket cam;
        alignas(64) HitLanes hit;
        alignas(64) float fpx[kLanes], fpy[kLanes], jitter[2][kLanes];
        alignas(64) int active[kLanes], shade[kLanes];
        alignas(64) ShadingLanes ss;
        uint64_t pixel[kLanes], sample[kLanes];
        int lpix[kLanes];
        // each lane's sample of every pass, added to its pixel's sums after the packet (in lane
        // order, as one loop over all passes)
        constexpr int kRow = kNumPasses * 3;
        const int row = row_;
        alignas(64) double rows[kLanes][kRow];
        double* lacc[kLanes];
        for (int i = 0; i < kLanes; ++i) lacc[i] = rows[i];
        LaneState lanes{};  // the path tracer's working memory, zeroed once per tile

        for (int64_t base = 0; base < items; base += kLanes) {
            if ((base & 1023) == 0) {
                if (check) (*check)();
                if (stop && stop->load(std::memory_order_relaxed)) return;
            }
            for (int i = 0; i < kLanes; ++i) {
                const int64_t item = std::min(base + i, items - 1);  // (lanes past the end: inactive copies)
                active[i] = base + i < items;
                lpix[i] = int(item / spp);
                const int px = x0 + lpix[i] % tw, py = y0 + lpix[i] / tw;
                pixel[i] = uint64_t(py) * uint64_t(opt_.width) + uint64_t(px);
                sample[i] = uint64_t(item % spp);
                fpx[i] = float(px);
                fpy[i] = float(py);
            }
            for (int i = 0; i < kLanes; ++i) std::memset(rows[i], 0, sizeof(double) * size_t(row));
            // Two independent streams per sample: the path's (which also jitters the camera ray)
            // and one for the auxiliary G-buffer rays, so that beauty does not depend on which
            // other passes are requested.
            seed_and_draw(&rng, opt_.seed, pixel, sample, active, 2, jitter);
            camera_rays(camera_, opt_.width, opt_.height, fpx, fpy, jitter[0], jitter[1], &cam);
            scene_.intersect(active, cam, !opt_.hide_lights, &hit, /*coherent=*/true);
            for (int i = 0; i < kLanes; ++i) {
                shade[i] = 0;
                if (!active[i]) continue;
                if (hit.shape[i] < 0) {  // geometric buffers are 0 on a miss
                    if (need_shading_) {
                        add(lacc[i], kBeauty, opt_.background);
                        add(lacc[i], kDirect, opt_.background);
                        add(lacc[i], kDiffuse, opt_.background);
                    }
                    continue;
                }
                shade[i] = need_shading_;
            }
            if (need_gbuffer_) gbuffer_packet(cam, hit, pixel, sample, lacc);
            if (need_shading_) {
                tracer_.trace(hit, cam.ray.dir_x, cam.ray.dir_y, cam.ray.dir_z, shade, &rng, &ss, &lanes);
                for (int i = 0; i < kLanes; ++i) {
                    if (!shade[i]) continue;
                    const Vec3 beauty(ss.beauty[0][i], ss.beauty[1][i], ss.beauty[2][i]);
                    const Vec3 direct(ss.direct[0][i], ss.direct[1][i], ss.direct[2][i]);
                    const Vec3 diffuse(ss.diffuse[0][i], ss.diffuse[1][i], ss.diffuse[2][i]);
                    if (!is_finite(beauty) || !is_finite(direct) || !is_finite(diffuse)) continue;
                    add(lacc[i], kBeauty, beauty);
                    add(lacc[i], kDirect, direct);
                    add(lacc[i], kDiffuse, diffuse);
                }
            }
            for (int i = 0; i < kLanes; ++i) {
                if (!active[i]) continue;
                double* a = &acc[size_t(lpix[i]) * row];
                for (int k = 0; k < row; ++k) a[k] += rows[i][k];
            }
        }

        const PassSet& ps = opt_.passes;
        const double inv = 1.0 / double(spp);
        for (int pix = 0; pix < npix; ++pix) {
            const double* a = &acc[size_t(pix) * row];
            double all[kNumPasses * 3];
            for (int p = 0; p < kNumPasses; ++p)
                for (int c = 0; c < 3; ++c) all[p * 3 + c] = slot_[p] >= 0 ? a[slot_[p] + c] : 0.0;
            for (int c = 0; c < 3; ++c) {  // derived passes
                all[kIndirect * 3 + c] = all[kBeauty * 3 + c] - all[kDirect * 3 + c];
                all[kSpecular * 3 + c] = all[kBeauty * 3 + c] - all[kDiffuse * 3 + c];
            }
            const int px = x0 + pix % tw, py = y0 + pix / tw;
            for (int p = 0; p < kNumPasses; ++p) {
                if (!ps.has(PassId(p))) continue;
                const int ch = kPassTable[p].channels;
                float* dst = result_->buffers[p].data() + (size_t(py) * opt_.width + px) * ch;
                for (int c = 0; c < ch; ++c) dst[c] = float(all[p * 3 + c] * inv);
            }
        }
    }

private:
    void add(double* a, PassId p, const Vec3& v) const {
        double* s = a + slot_[p];
        s[0] += v.x;
        s[1] += v.y;
        s[2] += v.z;
    }
    void add(double* a, PassId p, double x) const { a[slot_[p]] += x; }

    /// The G-buffer passes of the lanes whose camera ray (in `cam`) hit something (h.shape >= 0);
    /// acc[i] is the lane's pixel accumulator. Auxiliary rays go to Embree as packets.
    void gbuffer_packet(const RayHitPacket& cam, const HitLanes& h, const uint64_t* pixel, const uint64_t* sample,
                        double* const* acc) const {
        const PassSet& ps = opt_.passes;
        const bool hidden = opt_.hide_lights;
        const Material* mat[kLanes];
        alignas(64) int has[kLanes], draw[kLanes];
        alignas(64) RngLanes aux;
        alignas(64) float u[2][kLanes];
        alignas(64) float ar[kLanes], ag[kLanes], ab[kLanes];
        if (ps.has(kAlbedo)) albedo_lanes(tracer_, h, ar, ag, ab);
        for (int i = 0; i < kLanes; ++i) {
            has[i] = h.shape[i] >= 0;
            if (!has[i]) continue;
            double* a = acc[i];
            const Material& m = scene_.material(scene_.shape(h.shape[i]).material);
            mat[i] = &m;
            if (ps.has(kPosition)) add(a, kPosition, Vec3(h.px[i], h.py[i], h.pz[i]));
            if (ps.has(kNormal)) add(a, kNormal, Vec3(h.nx[i], h.ny[i], h.nz[i]));
            if (ps.has(kDepth)) add(a, kDepth, h.t[i]);
            if (ps.has(kId)) add(a, kId, m.id_norm);
            if (ps.has(kAlbedo) && !m.is_mirror_like()) add(a, kAlbedo, Vec3(ar[i], ag[i], ab[i]));
            if (ps.has(kRoughness)) add(a, kRoughness, m.roughness);
        }
        if (ps.any({kShadows, kAo})) seed_and_draw(&aux, opt_.seed ^ 0xa5a5a5a5a5a5a5a5ULL, pixel, sample, has, 0, u);
        if (ps.any({kMirror, kMirrorHit, kMirrorNormal})) {
            alignas(64) RayHitPacket mr;
            alignas(64) float rx[kLanes], ry[kLanes], rz[kLanes];
            mirror_rays(h, cam.ray.dir_x, cam.ray.dir_y, cam.ray.dir_z, rx, ry, rz, &mr);
            if (ps.has(kMirror))
                for (int i = 0; i < kLanes; ++i)
                    if (has[i]) add(acc[i], kMirror, Vec3(rx[i], ry[i], rz[i]));
            if (need_mirror_trace_) {
                alignas(64) HitLanes mh;
                scene_.intersect(has, mr, true, &mh);
                for (int i = 0; i < kLanes; ++i) {
                    if (!has[i] || mh.shape[i] < 0) continue;
                    if (ps.has(kMirrorHit)) add(acc[i], kMirrorHit, Vec3(mh.px[i], mh.py[i], mh.pz[i]));
                    if (ps.has(kMirrorNormal)) add(acc[i], kMirrorNormal, Vec3(mh.nx[i], mh.ny[i], mh.nz[i]));
                }
            }
        }
        if (ps.has(kShadows)) {
            // fraction of lights visible from the hit, one shadow ray per light; 1 on emitters
            const int nlights = int(tracer_.lights.sphere.size());
            int visible[kLanes] = {};
            alignas(64) float test[kLanes];
            alignas(64) ShadowRays rays;
            bool occluded[kLanes];
            for (int i = 0; i < kLanes; ++i) draw[i] = has[i] && !mat[i]->is_emissive();
            for (int li = 0; li < nlights; ++li) {
                draw_uniforms(&aux, draw, 2, u);
                for (int i = 0; i < kLanes; ++i) test[i] = draw[i] ? 1.f : 0.f;
                light_visibility_rays(tracer_.lights, li, h, u[0], u[1], test, &rays);
                scene_.occluded(rays, !hidden, occluded);
                for (int i = 0; i < kLanes; ++i)
                    if (test[i] != 0.f && !occluded[i]) ++visible[i];
            }
            for (int i = 0; i < kLanes; ++i) {
                if (!has[i]) continue;
                if (mat[i]->is_emissive())
                    add(acc[i], kShadows, 1.0);
                else if (nlights > 0)
                    add(acc[i], kShadows, double(visible[i]) / double(nlights));
            }
        }
        if (ps.has(kAo)) {
            // one cosine-weighted ray of length 1 about the normal facing the camera
            alignas(64) ShadowRays rays;
            bool occluded[kLanes];
            draw_uniforms(&aux, has, 2, u);
            for (int i = 0; i < kLanes; ++i) {
                rays.trace[i] = has[i] ? -1 : 0;
                if (!has[i]) continue;
                const Vec3 ns(h.nx[i], h.ny[i], h.nz[i]);
                const Vec3 d(cam.ray.dir_x[i], cam.ray.dir_y[i], cam.ray.dir_z[i]);
                const Vec3 n = dot(ns, d) < 0.f ? ns : -ns;
                const Vec3 w = Frame(n).to_world(sample_cosine_hemisphere(u[0][i], u[1][i]));
                const Vec3 o = offset_ray_origin(Vec3(h.px[i], h.py[i], h.pz[i]), Vec3(h.gx[i], h.gy[i], h.gz[i]), w);
                rays.ox[i] = o.x, rays.oy[i] = o.y, rays.oz[i] = o.z;
                rays.dx[i] = w.x, rays.dy[i] = w.y, rays.dz[i] = w.z;
                rays.tfar[i] = 1.f;
                rays.mask[i] = ~0u;
            }
            scene_.occluded(rays, !hidden, occluded);
            for (int i = 0; i < kLanes; ++i)
                if (has[i] && !occluded[i]) add(acc[i], kAo, 1.0);
        }
    }

    const Scene& scene_;
    const Camera& camera_;
    const RenderOptions& opt_;
    RenderResult* result_;
    PathTracer tracer_;
    bool need_shading_, need_mirror_trace_, need_gbuffer_;
    int slot_[kNumPasses];  // first of the pass's three sums in a pixel's row; -1: not kept
    int row_;               // sums per pixel
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
    // Cancellation (e.g. Ctrl-C in Python): the calling thread renders too and asks
    // should_cancel about every 50 ms, between its packets; then, while helpers finish, it
    // waits for them asking the same.
    bool cancelled = false;
    auto last_poll = std::chrono::steady_clock::now();
    const std::function<void()> poll = [&] {
        if (!options.should_cancel || cancelled) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_poll < std::chrono::milliseconds(50)) return;
        last_poll = now;
        if (options.should_cancel()) {
            cancelled = true;
            stop = true;  // workers leave their tiles within ~1000 samples
        }
    };
    std::mutex m;
    std::condition_variable cv;
    int running = nthreads;
    auto worker = [&](const std::function<void()>* check) {
        {
            DenormalsOff ftz;
            RayCounter& counter = thread_ray_counter();
            const RayCounter start = counter;
            try {
                for (;;) {
                    int t = next_tile.fetch_add(1);
                    if (t >= ntiles) break;
                    int x0 = (t % tiles_x) * kTile, y0 = (t / tiles_x) * kTile;
                    int x1 = std::min(x0 + kTile, options.width), y1 = std::min(y0 + kTile, options.height);
                    tr.render_tile(x0, y0, x1, y1, &stop, check);
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
        }
        std::lock_guard<std::mutex> lock(m);
        if (--running == 0) cv.notify_all();
    };
    std::vector<std::thread> pool;
    pool.reserve(nthreads - 1);
    for (int i = 0; i < nthreads - 1; ++i) pool.emplace_back(worker, nullptr);
    worker(options.should_cancel ? &poll : nullptr);
    if (options.should_cancel) {
        std::unique_lock<std::mutex> lock(m);
        while (running > 0) {
            if (cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return running == 0; })) break;
            lock.unlock();
            last_poll = std::chrono::steady_clock::time_point();
            poll();
            lock.lock();
        }
    }
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
    if (cancelled) throw RenderCancelled();
    result->rays_intersect = rays_intersect;
    result->rays_occluded = rays_occluded;
}

}  // namespace cnsr
