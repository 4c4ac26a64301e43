"""cnsr.analysis.attribution.AttributionSession: the viewer's cached / cropped attributions equal the
plain functions (float64), for pixel-wise and for spatial models."""
import pytest
import torch

from tiny import tiny_config

SIZE = 8


def cfg(representation="Pool", generator="PixelCNN"):
    settings = {"channels": [8, 8, 8], "end_relu": False} if generator == "Unet" else \
        {"layers": 2, "hidden_units": 8, "end_relu": False}
    return tiny_config(SIZE, representation={"type": representation},
                       generator={"type": generator, "query_passes": ["normal", "albedo"], "settings": settings},
                       job_name="sess", batch_size=1, test_batch_size=1, views_per_scene=4, latent_separation=True)


def model_and_batch(**kw):
    from cnsr.models import build_model

    torch.manual_seed(0)
    model = build_model(cfg(**kw)).double().eval()
    model.set_iteration(10 ** 6)
    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.rand(*s, generator=g, dtype=torch.float64) + 0.1  # noqa: E731
    batch = {"observation_images": {"beauty": r(1, 3, 3, SIZE, SIZE), "normal": r(1, 3, 3, SIZE, SIZE)},
             "observation_poses": r(1, 3, 16, 1, 1),
             "query_images": {"normal": r(1, 3, SIZE, SIZE), "albedo": r(1, 3, SIZE, SIZE),
                              "beauty": r(1, 3, SIZE, SIZE)},
             "query_poses": r(1, 16, 1, 1), "factor": -1}
    return model, batch


def same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k])


@pytest.mark.parametrize("kw,local", [({}, True), ({"representation": "Tower"}, False),
                                      ({"generator": "Unet"}, False)])
def test_session_patch_equals_patch_attribution(kw, local):
    from cnsr.analysis.attribution import AttributionSession, patch_attribution

    model, batch = model_and_batch(**kw)
    s = AttributionSession(model, batch)
    assert s.local == local
    with torch.no_grad():
        torch.testing.assert_close(s.prediction, model.sample(batch)[-1]["beauty"])
    # inside, clipped at the right/bottom edge (non-square crop), one channel, the image mean
    for args in ({"x": 2, "y": 3, "size": 3}, {"x": SIZE - 2, "y": SIZE - 1, "size": 4},
                 {"x": 0, "y": 5, "size": 2, "channels": [1]}, {"mean": True}):
        ref = patch_attribution(model, batch, **args)
        got = s.patch(**args)
        same(got.query, ref.query)
        same(got.observations, ref.observations)
        assert got.target == pytest.approx(ref.target)
        assert got.representation[0].shape[1] == 12 and got.representation_grad[0].shape == got.representation[0].shape
    # the two halves: no observations first, then from the representation's gradient
    part = s.patch(x=1, y=1, size=2, observations=False)
    assert part.observations == {}
    same(s.observation_attribution(part.representation_grad), patch_attribution(model, batch, x=1, y=1, size=2).observations)


def test_session_representation_targets():
    from cnsr.analysis.attribution import AttributionSession, representation_attribution

    model, batch = model_and_batch()
    s = AttributionSession(model, batch)
    for args in ({"dim": 5}, {"dim": 1, "partition_mean": True}, {"mean": True}):
        ref = representation_attribution(model, batch, **args)
        got = s.representation(**args)
        same(got.observations, ref.observations)
        assert got.query == {}
    g = s.representation(dim=5).representation_grad[0]
    assert g[0, 5].sum() == 1 and g.abs().sum() == 1        # d r_5 / d r: one-hot
