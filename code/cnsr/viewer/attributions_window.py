"""The moderngl-window application of ``visualize-attributions.py``: draws the canvas of
:class:`cnsr.viewer.attributions.AttributionViewerState` and the ImGui controls (the paper's
names) with the bars of summed |attribution|; the attributions are computed in a background
thread (:class:`~cnsr.viewer.background.BackgroundUpdater`), so the window keeps drawing.

Mouse: click or drag on the prediction to move the patch. Keys: arrows move the patch,
+/- patch size, R new scene, S save, M Activate Mean, G Representation Grad, P Partition Mean,
T Heatmap, A auto range, 1/2/3/4 Replace Light/Geo/Mat/All, 0 no replacement.
``--frames N`` renders N frames and exits; ``--screenshot F`` writes the last frame to F (PNG);
``--save`` presses Save after the last frame.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import imgui
import moderngl
import moderngl_window as mglw
import numpy as np
import torch
from moderngl_window import geometry
from moderngl_window.integrations.imgui import ModernglWindowRenderer

from ..arguments import integer, non_negative
from ..io.png import write_png
from .attribution_settings import PATCH_MAX, PATCH_MIN, RANGE_MAX_LIMIT, RANGE_MIN_LIMIT, REPLACE, SettingsError
from .attributions import AttributionViewerState
from .background import BackgroundUpdater
from .gqn_window import _FRAGMENT, _VERTEX, add_viewer_arguments, load_viewer_model
from .launch import run_viewer

#: width of the controls panel at the right of the window
PANEL = 330


class AttributionWindow(mglw.WindowConfig):
    gl_version = (3, 3)
    title = "visualize-attributions"
    window_size = (1100, 720)
    aspect_ratio = None
    resizable = True
    clear_color = (0.12, 0.12, 0.12, 1.0)

    @classmethod
    def add_arguments(cls, parser) -> None:
        add_viewer_arguments(parser)
        parser.add_argument("--settings", default=None,
                            help="settings.json of a saved result folder (or the paper's settings.txt)")
        parser.add_argument("--out_folder", default="attributions", help="where Save writes its folders")
        parser.add_argument("--spp", type=integer(1, 1 << 20), default=None,
                            help="samples per pixel (default: the config's)")
        parser.add_argument("--threads", type=non_negative, default=0,
                            help="torch threads (default: the cores less one, for the window and the renderer)")
        parser.add_argument("--save", action="store_true", help="press Save after the last frame (with --frames)")
        parser.add_argument("--auto_range", action="store_true",
                            help="press Auto Range when the first attribution is ready")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        a = self.argv
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
        torch.set_num_threads(a.threads or max(1, cores - 1))
        model, cfg, device = load_viewer_model(a)
        model.requires_grad_(False)
        self.state = AttributionViewerState(cfg, model, scene_file=a.scene_file, settings_file=a.settings,
                                            seed=a.seed, views=a.views, size=a.image_size, spp=a.spp,
                                            device=device, out_folder=a.out_folder)
        # scripted runs (--frames) show the finished attribution; interactive ones compute in a thread
        self.updater = None if a.frames else BackgroundUpdater(self.state)
        imgui.create_context()
        self.imgui = ModernglWindowRenderer(self.wnd)
        self.program = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self.quad = geometry.quad_fs()
        self.texture: Optional[moderngl.Texture] = None
        self._key = None
        self._placement = (0.0, 0.0, 1.0)
        self.frame = 0
        self.message = ""
        self._save_next = False
        self._auto_range = bool(a.auto_range)

    # ------------------------------------------------------------------ drawing
    def _upload(self) -> None:
        img = self.state.canvas_rgb8()
        h, w = img.shape[:2]
        if self.texture is None or self.texture.size != (w, h):
            if self.texture is not None:
                self.texture.release()
            self.texture = self.ctx.texture((w, h), 3, alignment=1)
            self.texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.texture.write(np.ascontiguousarray(img).tobytes())

    def on_render(self, time: float, frame_time: float) -> None:
        if self.updater is None:
            self.state.wait()
        if self._auto_range and self.state.result is not None and self.state.result.observations is not None:
            self.state.auto_range()
            self._auto_range = False
        key = self.state.canvas_key()
        if key != self._key or self.texture is None:
            self._upload()
            self._key = key
        fw, fh = self.wnd.buffer_size
        tw, th = self.texture.size
        r = self.wnd.pixel_ratio or 1.0
        area_w = max(1, fw - int(PANEL * r))
        scale = min(area_w / tw, fh / th)
        w, h = int(tw * scale), int(th * scale)
        x0, y0 = (area_w - w) // 2, (fh - h) // 2
        self.ctx.viewport = (x0, fh - h - y0, w, h)
        self._placement = (x0 / r, y0 / r, scale / r)
        self.texture.use(0)
        self.quad.render(self.program)
        self.ctx.viewport = (0, 0, fw, fh)
        self._gui()
        if self._save_next:
            self._save_next = False
            self._save()
        self.frame += 1
        if self.argv.frames and self.frame >= self.argv.frames:
            if self.argv.save:
                self._save()
            if self.argv.screenshot:
                self.save_screenshot(self.argv.screenshot)
            self.wnd.close()

    def _gui(self) -> None:
        s, st = self.state, self.state.settings
        imgui.new_frame()
        self._labels()
        w, h = self.wnd.size
        imgui.set_next_window_position(w - PANEL + 4, 4, imgui.ALWAYS)
        imgui.set_next_window_size(PANEL - 8, h - 8, imgui.ALWAYS)
        imgui.begin("Attributions", flags=imgui.WINDOW_NO_MOVE | imgui.WINDOW_NO_COLLAPSE)
        _, st.activate_mean = imgui.checkbox("Activate Mean", st.activate_mean)
        imgui.same_line()
        _, st.heatmap = imgui.checkbox("Heatmap", st.heatmap)
        _, st.representation_grad = imgui.checkbox("Representation Grad", st.representation_grad)
        imgui.same_line()
        _, st.partition_mean = imgui.checkbox("Partition Mean", st.partition_mean)
        if imgui.button("New Scene"):
            s.new_scene()
        imgui.same_line()
        if imgui.button("Save"):
            self._save_next = True        # after this frame is drawn, so the figure shows it
        imgui.same_line()
        if imgui.button("Auto Range"):
            s.auto_range()
        for i, name in enumerate(REPLACE):
            if i % 2:
                imgui.same_line()
            if imgui.button(name):
                s.replace(name)
        if imgui.button("No Replacement"):
            s.replace(None)
        nx = s.pixel_range("x")
        label = "Pixel X"
        if s.mode() == "dimension":
            label = "Pixel X (dim)"
        elif s.mode() == "partition":
            label = "Pixel X (part)"
        changed, v = imgui.slider_int(label, s.pixel_index("x"), 0, nx - 1)
        if changed:
            s.set_pixel_index("x", v)
        changed, v = imgui.slider_int("Pixel Y", s.pixel_index("y"), 0, s.pixel_range("y") - 1)
        if changed:
            s.set_pixel_index("y", v)
        changed, v = imgui.slider_int("Patch Size", st.patch_size, PATCH_MIN, PATCH_MAX)
        if changed:
            s.set_patch_size(v)
        changed, v = imgui.slider_float("Range Min", st.range_min, 0.0, RANGE_MIN_LIMIT, "%.6f")
        if changed:
            s.set_range(lo=v)
        changed, v = imgui.slider_float("Range Max", st.range_max, 1e-6, RANGE_MAX_LIMIT, "%.6f",
                                        imgui.SLIDER_FLAGS_LOGARITHMIC)
        if changed:
            s.set_range(hi=v)
        changed, i = imgui.combo("Query buffer", s.query_passes.index(st.query_buffer), s.query_passes)
        if changed:
            s.set_buffers(query=s.query_passes[i])
        changed, i = imgui.combo("Obs. buffer", s.observation_passes.index(st.observation_buffer),
                                 s.observation_passes)
        if changed:
            s.set_buffers(observation=s.observation_passes[i])
        imgui.separator()
        imgui.text("computing..." if s.busy() else "up to date")
        if self.updater is not None and self.updater.error is not None:
            imgui.text_wrapped(f"error: {self.updater.error}")
        imgui.text_wrapped(s.status())
        if self.message:
            imgui.text_wrapped(self.message)
        imgui.separator()
        self._bars()
        imgui.end()
        imgui.render()
        self.imgui.render(imgui.get_draw_data())

    def _bars(self) -> None:
        """Summed |attribution| per partition, observation, observation buffer, query buffer."""
        width = PANEL - 30
        for group, items in self.state.bars():
            imgui.text(group)
            if items is None:
                imgui.text("  (computing)")
                continue
            top = max([v for _, v in items] + [1e-30])
            for name, v in items:
                imgui.progress_bar(v / top, (width, 14), f"{name}: {v:.3g}")

    def _labels(self) -> None:
        """Tile names over the canvas (window coordinates, y down)."""
        x0, y0, scale = self._placement
        names = self.state.labels()
        draw = imgui.get_background_draw_list()
        for name, x, y, w, _ in self.state.layout().tiles:
            if name in names:
                px, py = x0 + x * scale + 3, y0 + y * scale + 2
                text = names[name][:max(1, int(w * scale - 6) // 7)]      # 7 px per character
                draw.add_rect_filled(px - 2, py - 1, px + 7 * len(text) + 2, py + 14,
                                     imgui.get_color_u32_rgba(0, 0, 0, 0.55))
                draw.add_text(px, py, imgui.get_color_u32_rgba(1, 1, 1, 1), text)

    def _framebuffer(self) -> np.ndarray:
        fw, fh = self.wnd.buffer_size
        data = np.frombuffer(self.ctx.fbo.read(viewport=(0, 0, fw, fh), components=3, alignment=1), np.uint8)
        return data.reshape(fh, fw, 3)[::-1].astype(np.float32) / 255.0

    def _save(self) -> None:
        folder = self.state.save(figure=self._framebuffer())
        self.message = f"saved {folder}"
        print(f"saved {folder}", flush=True)

    def save_screenshot(self, path: str) -> None:
        write_png(path, self._framebuffer())

    # ------------------------------------------------------------------ events
    def _canvas_point(self, x, y):
        x0, y0, scale = self._placement
        return (x - x0) / scale, (y - y0) / scale

    def _pointer(self, x, y) -> None:
        hit = self.state.tile_at(*self._canvas_point(x, y))
        if hit is not None and hit[0] == "prediction":
            self.state.click(hit[1], hit[2])

    def on_key_event(self, key, action, modifiers) -> None:
        self.imgui.key_event(key, action, modifiers)
        keys = self.wnd.keys
        if action != keys.ACTION_PRESS or imgui.get_io().want_capture_keyboard:
            return
        s, st = self.state, self.state.settings
        if key in (keys.LEFT, keys.RIGHT):
            s.set_pixel_index("x", s.pixel_index("x") + (1 if key == keys.RIGHT else -1))
        elif key in (keys.UP, keys.DOWN):
            s.set_pixel_index("y", s.pixel_index("y") + (1 if key == keys.DOWN else -1))
        elif key == keys.EQUAL:
            s.set_patch_size(st.patch_size + 1)
        elif key == keys.MINUS:
            s.set_patch_size(st.patch_size - 1)
        elif key == keys.R:
            s.new_scene()
        elif key == keys.S:
            self._save_next = True
        elif key == keys.M:
            st.activate_mean = not st.activate_mean
        elif key == keys.G:
            st.representation_grad = not st.representation_grad
        elif key == keys.P:
            st.partition_mean = not st.partition_mean
        elif key == keys.T:
            st.heatmap = not st.heatmap
        elif key == keys.A:
            s.auto_range()
        elif key in (keys.NUMBER_1, keys.NUMBER_2, keys.NUMBER_3, keys.NUMBER_4):
            s.replace(list(REPLACE)[[keys.NUMBER_1, keys.NUMBER_2, keys.NUMBER_3, keys.NUMBER_4].index(key)])
        elif key == keys.NUMBER_0:
            s.replace(None)

    def on_mouse_position_event(self, x, y, dx, dy) -> None:
        self.imgui.mouse_position_event(x, y, dx, dy)

    def on_mouse_drag_event(self, x, y, dx, dy) -> None:
        self.imgui.mouse_drag_event(x, y, dx, dy)
        if not imgui.get_io().want_capture_mouse and self.wnd.mouse_states.left:
            self._pointer(x, y)

    def on_mouse_press_event(self, x, y, button) -> None:
        self.imgui.mouse_press_event(x, y, button)
        if not imgui.get_io().want_capture_mouse and button == self.wnd.mouse.left:
            self._pointer(x, y)

    def on_mouse_release_event(self, x, y, button) -> None:
        self.imgui.mouse_release_event(x, y, button)

    def on_mouse_scroll_event(self, x_offset, y_offset) -> None:
        self.imgui.mouse_scroll_event(x_offset, y_offset)

    def on_unicode_char_entered(self, char) -> None:
        self.imgui.unicode_char_entered(char)

    def on_resize(self, width: int, height: int) -> None:
        self.imgui.resize(width, height)

    def on_close(self) -> None:
        if self.updater is not None:
            self.updater.stop()


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_viewer(AttributionWindow, argv, "visualize-attributions.py", errors=(SettingsError,))
