// The 16 G-buffer passes. Names and channel counts mirror code/cnsr/passes.py (the project's
// single source of truth); tests/render/test_passes.py checks that the two tables agree.
#pragma once

#include <cstdint>
#include <string>

namespace cnsr {

enum PassId : int {
    kBeauty = 0,
    kPosition,
    kNormal,
    kDepth,
    kId,
    kAlbedo,
    kRoughness,
    kDirect,
    kIndirect,
    kDiffuse,
    kSpecular,
    kMirror,
    kMirrorHit,
    kMirrorNormal,
    kShadows,
    kAo,
    kNumPasses
};

struct PassInfo {
    const char* name;
    int channels;
};

constexpr PassInfo kPassTable[kNumPasses] = {
    {"beauty", 3},   {"position", 3},   {"normal", 3},  {"depth", 1},         {"id", 1},
    {"albedo", 3},   {"roughness", 1},  {"direct", 3},  {"indirect", 3},      {"diffuse", 3},
    {"specular", 3}, {"mirror", 3},     {"mirror_hit", 3}, {"mirror_normal", 3}, {"shadows", 1},
    {"ao", 1},
};

/// A set of passes as a bit mask (bit i = PassId i).
class PassSet {
public:
    PassSet() = default;
    explicit PassSet(uint32_t bits) : bits_(bits) {}
    static PassSet all() { return PassSet((1u << kNumPasses) - 1u); }
    void add(PassId p) { bits_ |= 1u << p; }
    bool has(PassId p) const { return (bits_ >> p) & 1u; }
    bool any(std::initializer_list<PassId> ps) const {
        for (PassId p : ps)
            if (has(p)) return true;
        return false;
    }
    uint32_t bits() const { return bits_; }

    /// Does the set need the path-traced estimators?
    bool needs_shading() const { return any({kBeauty, kDirect, kIndirect, kDiffuse, kSpecular}); }

private:
    uint32_t bits_ = 0;
};

/// PassId of a pass name, or -1.
inline int pass_index(const std::string& name) {
    for (int i = 0; i < kNumPasses; ++i)
        if (name == kPassTable[i].name) return i;
    return -1;
}

}  // namespace cnsr
