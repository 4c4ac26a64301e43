"""cnsr.analysis.attribution: gradient x input of patches, the representation and its partitions."""
import pytest
import torch

from tiny import tiny_config

SIZE = 8


def tiny_cfg(**overrides):
    top = dict(job_name="attrtiny", batch_size=1, test_batch_size=1, views_per_scene=4, latent_separation=True,
               empty_partition=True)
    top.update(overrides)
    return tiny_config(SIZE, generator={"query_passes": ["normal", "albedo"],
                                        "settings": {"layers": 2, "hidden_units": 8, "end_relu": False}}, **top)


def make_model(dtype=torch.float64, **overrides):
    from cnsr.models import build_model

    torch.manual_seed(0)
    model = build_model(tiny_cfg(**overrides)).to(dtype)
    with torch.no_grad():
        deltas = model.representation.representations[0].deltas
        deltas.copy_(torch.tensor([0.3, -0.2, 0.5, 0.1][:deltas.shape[0]]))
    model.set_iteration(10 ** 6)
    return model.eval()


def make_batch(dtype=torch.float64, b=1, n=3):
    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.rand(*s, generator=g, dtype=dtype) + 0.1  # noqa: E731
    return {"observation_images": {"beauty": r(b, n, 3, SIZE, SIZE), "normal": r(b, n, 3, SIZE, SIZE)},
            "observation_poses": r(b, n, 16, 1, 1),
            "query_images": {"normal": r(b, 3, SIZE, SIZE), "albedo": r(b, 3, SIZE, SIZE),
                             "beauty": r(b, 3, SIZE, SIZE)},
            "query_poses": r(b, 16, 1, 1), "factor": -1}


def all_close(a, b, **kw):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], **kw)


def test_vectorised_patch_equals_per_pixel_backward():
    from cnsr.analysis.attribution import patch_attribution, patch_attribution_loop

    model, batch = make_model(), make_batch()
    fast = patch_attribution(model, batch, x=2, y=3, size=3)
    slow = patch_attribution_loop(model, batch, x=2, y=3, size=3)
    assert set(fast.query) == {"normal", "albedo"} and set(fast.observations) == {"beauty", "normal"}
    all_close(fast.query, slow.query)
    all_close(fast.observations, slow.observations)
    assert fast.observations["beauty"].shape == (1, 3, 3, SIZE, SIZE)
    assert any(v.abs().sum() > 0 for v in fast.observations.values())


def test_patch_is_clipped_to_the_image_and_channels_select():
    from cnsr.analysis.attribution import patch_attribution, patch_attribution_loop, patch_bounds

    assert patch_bounds(SIZE, SIZE, SIZE - 2, 0, 5) == (SIZE - 2, SIZE, 0, 5)
    model, batch = make_model(), make_batch()
    fast = patch_attribution(model, batch, x=SIZE - 2, y=SIZE - 1, size=4, channels=[1])
    slow = patch_attribution_loop(model, batch, x=SIZE - 2, y=SIZE - 1, size=4, channels=[1])
    all_close(fast.query, slow.query)
    all_close(fast.observations, slow.observations)


def finite_difference(model, batch, where, key, index, eps=1e-6):
    """d(output pixel (c, y, x) of the prediction) / d(input element) by central differences."""
    c, y, x = where

    def f(delta):
        b = {k: (dict(v) if isinstance(v, dict) else v) for k, v in batch.items()}
        t = b[where_dict(key)][key[1]].clone()
        t[index] += delta
        b[where_dict(key)][key[1]] = t
        with torch.no_grad():
            return model.sample(b)[-1]["beauty"][0, c, y, x].item()
    return (f(eps) - f(-eps)) / (2 * eps)


def where_dict(key):
    return "query_images" if key[0] == "q" else "observation_images"


def test_size_one_patch_is_gradient_times_input_by_finite_differences():
    from cnsr.analysis.attribution import patch_attribution

    model, batch = make_model(), make_batch()
    att = patch_attribution(model, batch, x=5, y=1, size=1)
    pix = att.prediction[0, :, 1, 5].sum()
    assert att.target == pytest.approx(float(pix))
    checks = [(("q", "normal"), (0, 1, 1, 5)), (("q", "albedo"), (0, 2, 1, 5)),
              (("o", "beauty"), (0, 0, 1, 4, 4)), (("o", "normal"), (0, 2, 0, 7, 0))]
    for key, index in checks:
        grad = sum(finite_difference(model, batch, (c, 1, 5), key, index) for c in range(3))
        inp = batch[where_dict(key)][key[1]][index].item()
        got = (att.query if key[0] == "q" else att.observations)[key[1]][index].item()
        assert got == pytest.approx(grad * inp, rel=1e-5, abs=1e-9), key
    # a pixel generator: the query attribution lives only on the patch's pixel
    q = att.query["normal"][0].abs().sum(0)
    assert q[1, 5] > 0 and (q.sum() - q[1, 5]) == 0


def test_activate_mean_is_the_image_mean():
    from cnsr.analysis.attribution import patch_attribution

    model, batch = make_model(), make_batch()
    full = patch_attribution(model, batch, x=0, y=0, size=SIZE)
    mean = patch_attribution(model, batch, mean=True)
    n = full.prediction.numel()
    all_close({k: v / n for k, v in full.observations.items()}, mean.observations)
    assert mean.target == pytest.approx(full.target / n)


def test_representation_dimension_and_partition_mean():
    from cnsr.analysis.attribution import partition_dims, partition_owner, representation_attribution

    model, batch = make_model(), make_batch()
    owner = partition_owner(model)
    assert owner.shape == (12,) and set(owner.tolist()) <= {0, 1, 2, 3}
    dims = partition_dims(model, "geometry")
    assert dims.numel() > 0 and (owner[dims] == 1).all()
    per_dim = [representation_attribution(model, batch, dim=int(d)).observations for d in dims]
    part = representation_attribution(model, batch, dim=1, partition_mean=True)
    # Pool encoder: [B, r, 1, 1], so the partition mean is the mean of its dimensions' values
    for k in part.observations:
        expected = sum(p[k] for p in per_dim) / dims.numel()
        torch.testing.assert_close(part.observations[k], expected)
    whole = representation_attribution(model, batch, mean=True)
    assert set(whole.observations) == {"beauty", "normal"}
    with pytest.raises(ValueError):
        representation_attribution(model, batch, dim=12)


def test_static_partitions_without_latent_separation():
    from cnsr.analysis.attribution import partition_owner

    model = make_model(latent_separation=False, empty_partition=False)
    assert partition_owner(model).tolist() == [0] * 4 + [1] * 4 + [2] * 4


@pytest.mark.parametrize("partition", ["light", "geo", "mat", "all"])
def test_replace_partition_zeroes_exactly_its_dimensions(partition, monkeypatch):
    from cnsr.analysis.attribution import partition_owner, replace_partition

    model, batch = make_model(), make_batch()
    seen = []
    original = model.generator.sample

    def spy(b, reps, size=None):
        seen.append(reps[0].clone())
        return original(b, reps, size)
    monkeypatch.setattr(model.generator, "sample", spy)
    with torch.no_grad():
        rep = model.encode(batch, -1)[0][0]
    out = replace_partition(model, batch, partition)
    new = seen[-1]
    if partition == "all":
        assert (new == 0).all()
    else:
        owner = partition_owner(model)
        inside = owner == {"light": 0, "geo": 1, "mat": 2}[partition]
        assert (new[:, inside] == 0).all()
        assert torch.equal(new[:, ~inside], rep[:, ~inside])
    expected = original(batch, [new])[-1]["beauty"]
    torch.testing.assert_close(out[-1]["beauty"], expected)
