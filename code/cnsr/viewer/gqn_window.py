"""The moderngl-window application of ``visualize-gqn.py``: uploads the canvas of
:class:`cnsr.viewer.gqn.GQNViewerState` as a texture and draws the ImGui options window.

Keys: R new random scene, O new observations, J/H query spp +-10, M/N observation spp +-10;
hold SPACE and use WASD, or drag with the left mouse button, to move the camera.
``--frames N`` renders N frames and exits; ``--screenshot F`` writes the last frame to F (PNG).
"""
from __future__ import annotations

from typing import Optional, Sequence

import imgui
import moderngl
import moderngl_window as mglw
import numpy as np
import torch
from moderngl_window import geometry
from moderngl_window.integrations.imgui import ModernglWindowRenderer

from ..arguments import add_deprecated_alias, add_set_argument, integer, non_negative, positive, seed
from ..engine.api import load_model
from ..io.png import to_uint8, write_png
from .gqn import SPP_MAX, SPP_MIN, GQNViewerState
from .launch import run_viewer

#: width of the options panel at the right of the window
PANEL = 280
#: degrees of camera turn per pixel of mouse drag
TURN = 0.3

_VERTEX = """
#version 330
in vec3 in_position;
in vec2 in_texcoord_0;
out vec2 uv;
void main() { gl_Position = vec4(in_position, 1.0); uv = vec2(in_texcoord_0.x, 1.0 - in_texcoord_0.y); }
"""
_FRAGMENT = """
#version 330
uniform sampler2D canvas;
in vec2 uv;
out vec4 color;
void main() { color = vec4(texture(canvas, uv).rgb, 1.0); }
"""


def add_viewer_arguments(parser) -> None:
    """The options both viewers share: the model, the scene, the device and views, and the
    headless run (--frames, --screenshot)."""
    parser.add_argument("--checkpoint", default=None, help="checkpoint file (ours or the paper's)")
    parser.add_argument("--config", default=None,
                        help="the model's config JSON (default: the config the checkpoint was trained with)")
    add_set_argument(parser)
    parser.add_argument("--scene_file", default=None, help="a scene JSON instead of random scenes")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: a GPU if there is one)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the random scenes and views")
    parser.add_argument("--views", type=positive, default=None,
                        help="observations (default: the config's views_per_scene - 1)")
    size = parser.add_argument("--image_size", type=integer(1, 4096), default=None,
                               help="image side of the renders in pixels (default: the config's render size)")
    add_deprecated_alias(parser, "--render_size", size)
    parser.add_argument("--frames", type=non_negative, default=0,
                        help="exit after this many frames (0: run until closed)")
    parser.add_argument("--screenshot", default=None, help="write the last frame to this PNG")
    parser.add_argument("--window_size", default=None, metavar="WxH",
                        help="window size, e.g. 1100x560 (the window library's --size)")


def load_viewer_model(a):
    """The model (and its config) the viewer options name, on the device they name."""
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_model(a.config, a.checkpoint, device=device, overrides=a.set)
    return model, model.cfg, device


class GQNWindow(mglw.WindowConfig):
    gl_version = (3, 3)
    title = "visualize-gqn"
    window_size = (1100, 560)
    aspect_ratio = None
    resizable = True
    clear_color = (0.12, 0.12, 0.12, 1.0)

    @classmethod
    def add_arguments(cls, parser) -> None:
        add_viewer_arguments(parser)
        parser.add_argument("--query_spp", type=integer(SPP_MIN, SPP_MAX), default=None,
                            help="query samples per pixel")
        parser.add_argument("--observation_spp", type=integer(SPP_MIN, SPP_MAX), default=None,
                            help="observation samples per pixel")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        a = self.argv
        model, cfg, device = load_viewer_model(a)
        self.state = GQNViewerState(cfg, model, scene_file=a.scene_file, seed=a.seed, views=a.views,
                                    size=a.image_size, query_spp=a.query_spp,
                                    observation_spp=a.observation_spp, device=device)
        imgui.create_context()
        self.imgui = ModernglWindowRenderer(self.wnd)
        self.program = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self.quad = geometry.quad_fs()
        self.texture: Optional[moderngl.Texture] = None
        self.frame = 0
        self.held = set()

    # ------------------------------------------------------------------ drawing
    def _upload(self) -> None:
        img = to_uint8(self.state.canvas())
        h, w = img.shape[:2]
        if self.texture is None or self.texture.size != (w, h):
            if self.texture is not None:
                self.texture.release()
            self.texture = self.ctx.texture((w, h), 3, alignment=1)
            self.texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.texture.write(np.ascontiguousarray(img).tobytes())

    def _move(self, frame_time: float) -> None:
        keys = self.wnd.keys
        if keys.SPACE not in self.held:
            return
        step = self.state.step_size() * min(frame_time, 0.1)
        fwd = (keys.W in self.held) - (keys.S in self.held)
        right = (keys.D in self.held) - (keys.A in self.held)
        self.state.move(fwd * step, right * step)

    def on_render(self, time: float, frame_time: float) -> None:
        self._move(frame_time)
        if self.state.update() or self.texture is None:
            self._upload()
        fw, fh = self.wnd.buffer_size
        tw, th = self.texture.size
        area_w = max(1, fw - int(PANEL * self.wnd.pixel_ratio))
        scale = min(area_w / tw, fh / th)
        w, h = int(tw * scale), int(th * scale)
        x0, y0 = (area_w - w) // 2, (fh - h) // 2
        self.ctx.viewport = (x0, fh - h - y0, w, h)
        r = self.wnd.pixel_ratio or 1.0
        self._placement = (x0 / r, y0 / r, scale / r)
        self.texture.use(0)
        self.quad.render(self.program)
        self.ctx.viewport = (0, 0, fw, fh)
        self._options()
        self.frame += 1
        if self.argv.frames and self.frame >= self.argv.frames:
            if self.argv.screenshot:
                self.save_screenshot(self.argv.screenshot)
            self.wnd.close()

    def _options(self) -> None:
        s = self.state
        imgui.new_frame()
        self._labels()
        w, h = self.wnd.size
        imgui.set_next_window_position(w - PANEL + 4, 4, imgui.ALWAYS)
        imgui.set_next_window_size(PANEL - 8, 0, imgui.ALWAYS)
        imgui.begin("Options", flags=imgui.WINDOW_NO_MOVE | imgui.WINDOW_NO_COLLAPSE)
        if imgui.button("Random Scene"):
            s.new_scene()
        if imgui.button("Randomize Observations"):
            s.new_observations()
        changed, v = imgui.slider_int("query spp", s.query_spp, SPP_MIN, 256)
        if changed:
            s.set_query_spp(v)
        changed, v = imgui.slider_int("obs spp", s.observation_spp, SPP_MIN, 256)
        if changed:
            s.set_observation_spp(v)
        imgui.text_wrapped(s.status())
        imgui.text_wrapped("left: reference, observations below\nright: prediction, query buffers below")
        imgui.text_wrapped("SPACE+WASD or drag: move\nR scene, O observations\nJ/H query spp +-10\n"
                           "M/N observation spp +-10")
        imgui.end()
        imgui.render()
        self.imgui.render(imgui.get_draw_data())

    def _labels(self) -> None:
        """Tile names over the canvas (window coordinates, y down)."""
        x0, y0, scale = self._placement
        names = {"reference": f"reference ({self.state.query_spp} spp)", "prediction": "prediction"}
        for i in range(self.state.views):
            names[f"observation_{i}"] = f"obs {i}"
        for i, p in enumerate(self.state.query_passes):
            names[f"buffer_{i}"] = p
        draw = imgui.get_background_draw_list()
        for name, x, y, _, _ in self.state.layout().tiles:
            if name in names:
                px, py = x0 + x * scale + 3, y0 + y * scale + 2
                draw.add_rect_filled(px - 2, py - 1, px + 7 * len(names[name]) + 2, py + 14,
                                     imgui.get_color_u32_rgba(0, 0, 0, 0.55))
                draw.add_text(px, py, imgui.get_color_u32_rgba(1, 1, 1, 1), names[name])

    def save_screenshot(self, path: str) -> None:
        fw, fh = self.wnd.buffer_size
        data = np.frombuffer(self.ctx.fbo.read(viewport=(0, 0, fw, fh), components=3, alignment=1), np.uint8)
        write_png(path, data.reshape(fh, fw, 3)[::-1].astype(np.float32) / 255.0)

    # ------------------------------------------------------------------ events
    def on_key_event(self, key, action, modifiers) -> None:
        self.imgui.key_event(key, action, modifiers)
        keys = self.wnd.keys
        if action == keys.ACTION_PRESS:
            self.held.add(key)
            if imgui.get_io().want_capture_keyboard:
                return
            names = {keys.R: "r", keys.O: "o", keys.J: "j", keys.H: "h", keys.M: "m", keys.N: "n"}
            if key in names:
                self.state.handle_key(names[key])
        elif action == keys.ACTION_RELEASE:
            self.held.discard(key)

    def on_mouse_position_event(self, x, y, dx, dy) -> None:
        self.imgui.mouse_position_event(x, y, dx, dy)

    def on_mouse_drag_event(self, x, y, dx, dy) -> None:
        self.imgui.mouse_drag_event(x, y, dx, dy)
        if not imgui.get_io().want_capture_mouse and self.wnd.mouse_states.left:
            self.state.rotate(dx * TURN, -dy * TURN)

    def on_mouse_scroll_event(self, x_offset, y_offset) -> None:
        self.imgui.mouse_scroll_event(x_offset, y_offset)

    def on_mouse_press_event(self, x, y, button) -> None:
        self.imgui.mouse_press_event(x, y, button)

    def on_mouse_release_event(self, x, y, button) -> None:
        self.imgui.mouse_release_event(x, y, button)

    def on_unicode_char_entered(self, char) -> None:
        self.imgui.unicode_char_entered(char)

    def on_resize(self, width: int, height: int) -> None:
        self.imgui.resize(width, height)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_viewer(GQNWindow, argv, "visualize-gqn.py")
