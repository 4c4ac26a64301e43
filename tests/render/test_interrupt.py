"""Ctrl-C stops a long render promptly with KeyboardInterrupt, and the renderer stays usable."""
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{code!r}, {helpers!r}]
    from cnsr.render import Renderer
    from render_helpers import box_room
    r = Renderer(threads={threads})
    r.load_scene(box_room())
    print("start", flush=True)
    t = time.time()
    try:
        r.render(size=256, spp=100000, passes=["beauty"])
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        print(r.render(size=4, spp=1, passes=["beauty"])["beauty"].shape, flush=True)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("threads", [1, 2])  # the calling thread renders too and polls for Ctrl-C
def test_ctrl_c_interrupts_a_render(repo_root, threads):
    code = SCRIPT.format(code=str(repo_root / "code"), helpers=str(repo_root / "tests" / "render"), threads=threads)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert p.stdout.readline().strip() == "start"
        time.sleep(0.5)
        t = time.time()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert "interrupted" in out and "(4, 4, 3)" in out, out
    assert time.time() - t < 10
