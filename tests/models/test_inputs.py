"""Network inputs: concatenation order, resizing, indirect clamping, mirror masking."""
import torch

from cnsr.models.inputs import observation_tensor, query_tensor, split_passes


def test_concatenation_in_config_order_and_nearest_resize():
    d = {"normal": torch.full((2, 3, 8, 8), 1.0), "id": torch.full((2, 1, 8, 8), 2.0),
         "position": torch.full((2, 3, 8, 8), 3.0)}
    x = query_tensor(d, ["id", "position", "normal"], 4)
    assert x.shape == (2, 7, 4, 4)
    assert x[:, 0].unique().tolist() == [2.0]
    assert x[:, 1:4].unique().tolist() == [3.0]
    assert x[:, 4:].unique().tolist() == [1.0]
    # nearest: a checkerboard at 8 px downsampled by 2 keeps one phase
    board = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2
    t = query_tensor({"id": board.float().view(1, 1, 8, 8)}, ["id"], 4)
    assert t.unique().numel() == 1


def test_empty_passes_and_split():
    like = torch.zeros(3, 16, 1, 1)
    assert query_tensor({"beauty": torch.rand(3, 3, 8, 8)}, [], 8, like=like).shape == (3, 0, 8, 8)
    t = torch.arange(7.0).view(1, 7, 1, 1)
    parts = split_passes(t, ["normal", "id", "position"])
    assert parts["id"].flatten().tolist() == [3.0] and parts["position"].flatten().tolist() == [4, 5, 6]


def test_indirect_clamped_and_dict_untouched():
    ind = torch.tensor([-1.0, 0.5, 2.0]).view(1, 3, 1, 1)
    d = {"indirect": ind}
    x = query_tensor(d, ["indirect"], 1)
    assert x.flatten().tolist() == [0.0, 0.5, 2.0]
    assert d["indirect"].flatten()[0] == -1.0


def test_mirror_passes_zeroed_on_rough_surfaces_only_with_roughness():
    rough = torch.tensor([[0.5, 0.9]]).view(1, 1, 1, 2)
    mirror = torch.ones(1, 3, 1, 2)
    d = {"roughness": rough, "mirror": mirror, "mirror_hit": mirror, "normal": mirror}
    x = query_tensor(d, ["roughness", "mirror", "mirror_hit", "normal"], 2)
    # rows are nearest-resized to 2x2; column 1 has roughness 0.9
    assert torch.all(x[:, 1:7, :, 1] == 0) and torch.all(x[:, 1:7, :, 0] == 1)
    assert torch.all(x[:, 7:, :, :] == 1)                # normal is not a mirror pass
    y = query_tensor(d, ["mirror"], 2)                   # no roughness among the passes
    assert torch.all(y == 1)


def test_observation_tensor_shapes():
    d = {"beauty": torch.rand(2, 3, 3, 16, 16), "id": torch.rand(2, 3, 1, 16, 16)}
    x = observation_tensor(d, ["beauty", "id"], 8)
    assert x.shape == (2, 3, 4, 8, 8)
    assert torch.equal(x[1, 2, 3], d["id"][1, 2, 0, ::2, ::2])
