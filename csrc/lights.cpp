#include "lights.h"


namespace cnsr {

std::vector<Light> build_lights(std::vector<std::unique_ptr<Shape>>& shapes, const std::vector<Material>& materials) {
    std::vector<Light> lights;
    for (auto& sp : shapes) {
        Shape& s = *sp;
        s.mask = s.emitter_group ? kMaskOtherEmitter : kMaskNonEmitter;
        const Material& m = materials[s.material];
        if (!m.is_emissive()) continue;
        float area = s.area();
        s.radiance = area > 0.f ? m.emission / area : Vec3(0.f);
        if (s.type == ShapeType::Mesh) continue;  // emissive meshes are hit, not sampled
        Light l;
        l.radiance = s.radiance;
        if (s.type == ShapeType::Sphere) {
            l.type = LightType::Sphere;
            l.center = s.center;
            l.radius = s.radius;
        } else {
            l.type = LightType::Quad;
            l.corner = s.corner;
            l.e1 = s.e1;
            l.e2 = s.e2;
            l.normal = s.normal;
        }
        l.area = area;
        s.light = int(lights.size());
        s.mask = light_mask_bit(s.light);
        lights.push_back(l);
    }
    return lights;
}

}  // namespace cnsr
