import pytest

from render_helpers import HAVE_RENDERER


def pytest_collection_modifyitems(config, items):
    if HAVE_RENDERER:
        return
    skip = pytest.mark.skip(reason="the C++ renderer (cnsr._renderer) is not built; run build_renderer.sh")
    for item in items:
        if "tests/render" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)
