// Python bindings of the renderer (module cnsr._renderer). The Python side (cnsr.render)
// validates scene descriptions and hands world-space shapes to these thin wrappers.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "camera.h"
#include "integrator.h"
#include "material.h"
#include "passes.h"
#include "lanemath.h"
#include "scene.h"
#include "shading.h"
#include "simd.h"

namespace py = pybind11;
using namespace cnsr;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IndexArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

Vec3 to_vec3(const std::array<float, 3>& a) { return Vec3(a[0], a[1], a[2]); }

std::vector<Vec3> to_vec3s(const FloatArray& a, const char* what) {
    if (a.ndim() != 2 || a.shape(1) != 3) throw py::value_error(std::string(what) + " must have shape (N, 3)");
    std::vector<Vec3> out(size_t(a.shape(0)));
    auto r = a.unchecked<2>();
    for (py::ssize_t i = 0; i < a.shape(0); ++i) out[size_t(i)] = Vec3(r(i, 0), r(i, 1), r(i, 2));
    return out;
}

int rows3(const FloatArray& a, const char* what) {
    if (a.ndim() != 2 || a.shape(1) != 3) throw py::value_error(std::string(what) + " must have shape (n, 3)");
    return int(a.shape(0));
}

MaterialLobes lobes(float roughness, float ior) {
    Material m;
    m.roughness = roughness;
    m.ior = ior;
    return material_lobes(m);
}

/// A light for the test hooks: {"type": "sphere", "center", "radius"} or {"type": "quad",
/// "corner", "e1", "e2", "normal"} (radiance 1).
Light light_from(const py::dict& d) {
    auto vec = [&](const char* k) { return to_vec3(d[k].cast<std::array<float, 3>>()); };
    const std::string type = d["type"].cast<std::string>();
    Light l;
    l.radiance = Vec3(1.f);
    if (type == "sphere") {
        l.type = LightType::Sphere;
        l.center = vec("center");
        l.radius = d["radius"].cast<float>();
        l.area = 4.f * kPi * l.radius * l.radius;
    } else if (type == "quad") {
        l.type = LightType::Quad;
        l.corner = vec("corner");
        l.e1 = vec("e1");
        l.e2 = vec("e2");
        l.normal = normalize(vec("normal"));
        l.area = length(cross(l.e1, l.e2));
    } else {
        throw py::value_error("light type must be 'sphere' or 'quad'");
    }
    return l;
}

}  // namespace

PYBIND11_MODULE(_renderer, m) {
    m.doc() = "cnsr path tracer (Embree): scenes, pinhole camera and the 16 G-buffer passes";

    py::list passes;
    for (const PassInfo& p : kPassTable) passes.append(py::make_tuple(p.name, p.channels));
    m.attr("PASSES") = passes;
    m.attr("EMBREE_API_VERSION") = CNSR_EMBREE_VERSION;
    m.attr("EMBREE_VERSION") = std::to_string(RTC_VERSION_MAJOR) + "." + std::to_string(RTC_VERSION_MINOR) + "." +
                               std::to_string(RTC_VERSION_PATCH);

    py::class_<Scene>(m, "Scene", "World-space scene; add shapes, then commit() before rendering.")
        .def(py::init<>())
        .def(
            "add_material",
            [](Scene& s, std::array<float, 3> color, std::array<float, 3> emission, float roughness, float ior,
               int texture, float freq_u, float freq_v, float id_norm) {
                Material mat;
                mat.color = to_vec3(color);
                mat.emission = to_vec3(emission);
                mat.roughness = roughness;
                mat.ior = ior;
                mat.texture = texture;
                mat.freq_u = freq_u;
                mat.freq_v = freq_v;
                mat.id_norm = id_norm;
                return s.add_material(mat);
            },
            py::arg("color"), py::arg("emission"), py::arg("roughness"), py::arg("ior"), py::arg("texture") = -1,
            py::arg("freq_u") = 1.f, py::arg("freq_v") = 1.f, py::arg("id_norm") = 0.f)
        .def(
            "add_texture",
            [](Scene& s, const FloatArray& texels) {
                if (texels.ndim() != 2) throw py::value_error("texture must be a 2-D (H, W) array of max(r, g, b)");
                std::vector<float> data(texels.data(), texels.data() + texels.size());
                return s.add_texture(int(texels.shape(1)), int(texels.shape(0)), std::move(data));
            },
            py::arg("texels"), "Adds a (H, W) float32 texture holding max(r, g, b) per texel; row 0 = top.")
        .def(
            "add_mesh",
            [](Scene& s, const FloatArray& vertices, const IndexArray& faces, py::object normals, py::object uvs,
               int material, bool emitter_group) {
                std::vector<Vec3> v = to_vec3s(vertices, "vertices");
                if (faces.ndim() != 2 || faces.shape(1) != 3) throw py::value_error("faces must have shape (M, 3)");
                std::vector<uint32_t> idx(size_t(faces.size()));
                const int64_t* f = faces.data();
                for (size_t i = 0; i < idx.size(); ++i) {
                    if (f[i] < 0 || f[i] >= int64_t(v.size())) throw py::value_error("face index out of range");
                    idx[i] = uint32_t(f[i]);
                }
                std::vector<Vec3> n;
                if (!normals.is_none()) n = to_vec3s(normals.cast<FloatArray>(), "normals");
                std::vector<float> uv;
                if (!uvs.is_none()) {
                    FloatArray a = uvs.cast<FloatArray>();
                    if (a.ndim() != 2 || a.shape(1) != 2) throw py::value_error("uvs must have shape (N, 2)");
                    uv.assign(a.data(), a.data() + a.size());
                }
                return s.add_mesh(std::move(v), std::move(idx), std::move(n), std::move(uv), material, emitter_group);
            },
            py::arg("vertices"), py::arg("faces"), py::arg("normals") = py::none(), py::arg("uvs") = py::none(),
            py::arg("material") = 0, py::arg("emitter_group") = false)
        .def(
            "add_sphere",
            [](Scene& s, std::array<float, 3> c, float r, int material, bool emitter_group) {
                return s.add_sphere(to_vec3(c), r, material, emitter_group);
            },
            py::arg("center"), py::arg("radius"), py::arg("material") = 0, py::arg("emitter_group") = false)
        .def(
            "add_quad",
            [](Scene& s, std::array<float, 3> corner, std::array<float, 3> e1, std::array<float, 3> e2,
               std::array<float, 3> normal, int material, bool emitter_group) {
                return s.add_quad(to_vec3(corner), to_vec3(e1), to_vec3(e2), to_vec3(normal), material,
                                  emitter_group);
            },
            py::arg("corner"), py::arg("e1"), py::arg("e2"), py::arg("normal"), py::arg("material") = 0,
            py::arg("emitter_group") = false,
            "Adds the parallelogram corner + s e1 + t e2 (uv = (s, t)), front side facing `normal`.")
        .def("commit", &Scene::commit, py::arg("sphere_bvh_min") = int(Accel::kDefaultSphereBvhMin),
             py::call_guard<py::gil_scoped_release>(),
             "Builds the lights and the acceleration structure. Scenes with at least sphere_bvh_min\n"
             "non-emitting spheres put them into the BVH (the same hits as the lane loops).")
        .def_property_readonly("spheres_in_bvh", &Scene::spheres_in_bvh)
        .def_property_readonly("committed", &Scene::committed)
        .def_property_readonly("num_lights", [](const Scene& s) { return int(s.lights().size()); })
        .def_property_readonly("num_shapes", &Scene::num_shapes)
        .def_property_readonly("num_materials", &Scene::num_materials)
        .def_property_readonly("num_textures", &Scene::num_textures);

    py::class_<Camera>(m, "Camera", "Pinhole camera, +Y up, vertical field of view in degrees.")
        .def(py::init([](std::array<float, 3> position, std::array<float, 3> lookat, float fov, float near_clip,
                         float far_clip) {
                 Camera c;
                 c.position = to_vec3(position);
                 c.lookat = to_vec3(lookat);
                 c.fov_deg = fov;
                 c.near_clip = near_clip;
                 c.far_clip = far_clip;
                 c.update();
                 return c;
             }),
             py::arg("position"), py::arg("lookat"), py::arg("fov") = 75.f, py::arg("near") = 0.01f,
             py::arg("far") = 100.f)
        .def("pose",
             [](const Camera& c) {
                 auto p = c.pose();
                 py::array_t<float> a(16);
                 std::copy(p.begin(), p.end(), a.mutable_data());
                 return a;
             },
             "World-to-camera lookAt matrix, 16 floats, column-major (translation at 12, 13, 14).");

    m.def(
        "_lane_sincos",
        [](const std::vector<float>& x) {
            std::vector<float> s(x.size()), c(x.size());
            for (size_t i = 0; i < x.size(); ++i) sincos_lane(x[i], &s[i], &c[i]);
            return std::make_pair(s, c);
        },
        "sin and cos as the lane loops compute them (for tests).");
    m.attr("packet_width") = kPacketWidth;  // paths traced in lockstep (CMake: CNSR_PACKET_WIDTH)
    m.def("lanes_isa", &lanes_isa,
          "The instruction set of the lane loops: 'avx512', 'avx2' or 'baseline', the widest the CPU has "
          "unless the environment variable CNSR_LANES (baseline, avx2) or CNSR_NO_AVX2 asked for a narrower "
          "one before the first render.");
    // Test hooks: the renderer's BSDF and light sampler (the lane kernels) on n inputs.
    m.def(
        "_bsdf_eval",
        [](std::array<float, 3> albedo, float roughness, float ior, const FloatArray& wo, const FloatArray& wi) {
            const int n = rows3(wo, "wo");
            if (rows3(wi, "wi") != n) throw py::value_error("wo and wi must have the same shape");
            py::array_t<float> fd({n, 3}), fs(n), pd(n), ps(n);
            bsdf_eval_lanes(to_vec3(albedo), lobes(roughness, ior), n, wo.data(), wi.data(), fd.mutable_data(),
                            fs.mutable_data(), pd.mutable_data(), ps.mutable_data());
            return py::make_tuple(fd, fs, pd, ps);
        },
        py::arg("albedo"), py::arg("roughness"), py::arg("ior"), py::arg("wo"), py::arg("wi"),
        "(f_diffuse (n, 3), f_specular (n,), pdf_diffuse (n,), pdf_specular (n,)) of the BSDF at unit\n"
        "directions wo, wi (n, 3) in the shading frame (z = normal), as the path tracer evaluates it.");
    m.def(
        "_bsdf_sample",
        [](std::array<float, 3> albedo, float roughness, float ior, const FloatArray& wo, const FloatArray& u) {
            const int n = rows3(wo, "wo");
            if (rows3(u, "u") != n) throw py::value_error("u must have shape (n, 3) like wo");
            py::array_t<float> wi({n, 3}), weight({n, 3}), pdf(n), pdf_d(n), lobe(n);
            bsdf_sample_lanes(to_vec3(albedo), lobes(roughness, ior), n, wo.data(), u.data(), wi.mutable_data(),
                              weight.mutable_data(), pdf.mutable_data(), pdf_d.mutable_data(), lobe.mutable_data());
            return py::make_tuple(wi, weight, pdf, pdf_d, lobe);
        },
        py::arg("albedo"), py::arg("roughness"), py::arg("ior"), py::arg("wo"), py::arg("u"),
        "(wi (n, 3), f cos / pdf (n, 3), pdf (n,), pdf_diffuse (n,), diffuse_lobe (n,)): BSDF samples drawn\n"
        "as a path vertex with normal +z draws them from the uniforms u (n, 3); weight and pdfs are 0\n"
        "where no direction was sampled.");
    m.def(
        "_light_sample",
        [](const py::dict& light, const FloatArray& p, const FloatArray& u) {
            const LightTable lt(std::vector<Light>{light_from(light)});
            const int n = rows3(p, "p");
            if (u.ndim() != 2 || u.shape(0) != n || u.shape(1) != 2) throw py::value_error("u must have shape (n, 2)");
            py::array_t<float> w({n, 3}), q({n, 3}), pdf(n), ok(n);
            light_sample_lanes(lt, 0, n, p.data(), u.data(), w.mutable_data(), q.mutable_data(), pdf.mutable_data(),
                               ok.mutable_data());
            return py::make_tuple(w, q, pdf, ok);
        },
        py::arg("light"), py::arg("p"), py::arg("u"),
        "(w (n, 3), q (n, 3), pdf (n,), ok (n,)): samples of a light (dict: type 'sphere' with center,\n"
        "radius, or 'quad' with corner, e1, e2, normal) from points p (n, 3) with uniforms u (n, 2).");
    m.def(
        "_light_pdf",
        [](const py::dict& light, const FloatArray& p, const FloatArray& w, const FloatArray& dist) {
            const LightTable lt(std::vector<Light>{light_from(light)});
            const int n = rows3(p, "p");
            if (rows3(w, "w") != n || dist.ndim() != 1 || dist.shape(0) != n)
                throw py::value_error("w must have shape (n, 3) and dist (n,) like p");
            py::array_t<float> pdf(n);
            light_pdf_lanes(lt, 0, n, p.data(), w.data(), dist.data(), pdf.mutable_data());
            return pdf;
        },
        py::arg("light"), py::arg("p"), py::arg("w"), py::arg("dist"),
        "Solid-angle density of the unit directions w (n, 3) from points p (n, 3) that reach the light at dist.");

    m.def(
        "render",
        [](const Scene& scene, const Camera& camera, int width, int height, int spp, uint64_t seed,
           std::vector<std::string> pass_names, int threads, int bounces, bool hide_lights, bool nee,
           std::array<float, 3> background, bool return_stats) -> py::object {
            RenderOptions opt;
            opt.width = width;
            opt.height = height;
            opt.spp = spp;
            opt.seed = seed;
            opt.threads = threads;
            opt.bounces = bounces;
            opt.hide_lights = hide_lights;
            opt.nee = nee;
            opt.background = to_vec3(background);
            PassSet ps;
            for (const std::string& n : pass_names) {
                int i = pass_index(n);
                if (i < 0) throw py::value_error("unknown pass '" + n + "'");
                ps.add(PassId(i));
            }
            opt.passes = ps;
            // Ctrl-C during a long render: the calling thread polls Python's signal handlers.
            bool interrupted = false;
            opt.should_cancel = [&interrupted]() {
                py::gil_scoped_acquire gil;
                if (PyErr_CheckSignals() != 0) {
                    interrupted = true;  // the exception (KeyboardInterrupt) stays set
                    return true;
                }
                return false;
            };
            RenderResult result;
            try {
                py::gil_scoped_release release;
                render(scene, camera, opt, &result);
            } catch (const RenderCancelled&) {
                if (interrupted) throw py::error_already_set();
                throw;
            }
            py::dict out;
            for (int p = 0; p < kNumPasses; ++p) {
                if (!ps.has(PassId(p))) continue;
                const int ch = kPassTable[p].channels;
                py::array_t<float> a({py::ssize_t(height), py::ssize_t(width), py::ssize_t(ch)});
                std::copy(result.buffers[p].begin(), result.buffers[p].end(), a.mutable_data());
                out[kPassTable[p].name] = a;
            }
            if (!return_stats) return std::move(out);
            py::dict stats;
            stats["rays_intersect"] = result.rays_intersect;
            stats["rays_occluded"] = result.rays_occluded;
            return py::make_tuple(out, stats);
        },
        py::arg("scene"), py::arg("camera"), py::arg("width"), py::arg("height"), py::arg("spp"), py::arg("seed"),
        py::arg("passes"), py::arg("threads") = 0, py::arg("bounces") = 4, py::arg("hide_lights") = false,
        py::arg("nee") = true, py::arg("background") = std::array<float, 3>{0.f, 0.f, 0.f},
        py::arg("return_stats") = false,
        "Renders the requested passes; returns {name: float32 array (height, width, channels)} (and, with\n"
        "return_stats, a dict of ray counts).");
}
