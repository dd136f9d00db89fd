import math

import pytest
import torch

from iodvideo.losses import CenterNetLoss, focal_loss, reg_l1_loss, reg_relative_l1_loss


def test_focal_loss_hand_computed():
    gt = torch.tensor([[[[1.0, 0.5], [0.0, 0.0]]]])
    pred = torch.tensor([[[[0.8, 0.3], [0.1, 0.5]]]])
    pos = math.log(0.8) * 0.2**2
    neg = (math.log(0.7) * 0.3**2 * 0.5**4 + math.log(0.9) * 0.1**2 + math.log(0.5) * 0.5**2)
    assert focal_loss(pred, gt).item() == pytest.approx(-(pos + neg), rel=1e-6)


def test_focal_loss_without_positives_is_the_negative_sum():
    gt = torch.zeros(1, 1, 2, 2)
    pred = torch.full((1, 1, 2, 2), 0.5)
    assert focal_loss(pred, gt).item() == pytest.approx(-4 * math.log(0.5) * 0.25, rel=1e-6)


def test_reg_l1_is_masked_mean_absolute_error():
    maps = torch.zeros(1, 2, 2, 2)
    maps[0, :, 1, 1] = torch.tensor([3.0, 5.0])
    index = torch.tensor([[3, 0]])
    target = torch.tensor([[[1.0, 1.0], [100.0, 100.0]]])
    mask = torch.tensor([[1.0, 0.0]])
    assert reg_l1_loss(maps, index, mask, target).item() == pytest.approx(6 / (2 + 1e-4))


def test_relative_l1_divides_each_error_by_its_true_size():
    maps = torch.zeros(1, 2, 2, 2)
    maps[0, :, 1, 1] = torch.tensor([6.0, 1.0])  # w off by 2 of 4, h off by 0.5 of 0.5
    index = torch.tensor([[3, 0]])
    target = torch.tensor([[[4.0, 0.5], [100.0, 100.0]]])
    mask = torch.tensor([[1.0, 0.0]])
    # 2/4 + 0.5/max(0.5, min_size 1): sub-cell targets are divided by 1, not by themselves
    expected = (2 / 4 + 0.5 / 1) / (2 + 1e-4)
    assert reg_relative_l1_loss(maps, index, mask, target).item() == pytest.approx(expected)
    # the same cell error costs a small box more than a large one (plain L1: equal)
    small, large = torch.tensor([[[2.0, 2.0]]]), torch.tensor([[[20.0, 20.0]]])
    pred = torch.zeros(1, 2, 2, 2)
    pred[0, :, 1, 1] = torch.tensor([3.0, 3.0])
    pred_large = pred + 18.0
    one = torch.tensor([[1.0]])
    assert reg_relative_l1_loss(pred, index[:, :1], one, small) > 5 * reg_relative_l1_loss(
        pred_large, index[:, :1], one, large)
    assert reg_l1_loss(pred, index[:, :1], one, small).item() == pytest.approx(
        reg_l1_loss(pred_large, index[:, :1], one, large).item())


def test_criterion_size_loss_option():
    k, grid = 1, 2
    output = {"hm": torch.zeros(1, 1, grid, grid), "wh": torch.full((1, 2 * k, grid, grid), 6.0),
              "mov": torch.zeros(1, 2 * k, grid, grid)}
    batch = {"hm": torch.zeros(1, 1, grid, grid), "index": torch.tensor([[0]]),
             "index_all": torch.tensor([[[0, 0]]]), "mask": torch.tensor([[1.0]]),
             "wh": torch.full((1, 1, 2 * k), 4.0), "mov": torch.zeros(1, 1, 2 * k)}
    plain = CenterNetLoss()(output, batch)["wh_loss"].item()
    relative = CenterNetLoss(wh_loss="relative")(output, batch)["wh_loss"].item()
    assert plain == pytest.approx(2.0, rel=1e-4) and relative == pytest.approx(0.5, rel=1e-4)
    with pytest.raises(ValueError, match="loss.wh_loss must be one of"):
        CenterNetLoss(wh_loss="giou")


def test_criterion_weights_and_gradients():
    torch.manual_seed(0)
    k, grid = 2, 4
    output = {
        "hm": torch.randn(1, 1, grid, grid, requires_grad=True),
        "wh": torch.randn(1, 2 * k, grid, grid, requires_grad=True),
        "mov": torch.randn(1, 2 * k, grid, grid, requires_grad=True),
    }
    hm = torch.zeros(1, 1, grid, grid)
    hm[0, 0, 1, 1] = 1
    batch = {
        "hm": hm, "index": torch.tensor([[5]]), "index_all": torch.tensor([[[5, 5, 6, 6]]]),
        "mask": torch.tensor([[1.0]]), "wh": torch.ones(1, 1, 2 * k),
        "mov": torch.zeros(1, 1, 2 * k),
    }
    losses = CenterNetLoss(hm_weight=1, wh_weight=0.1, mov_weight=1)(output, batch)
    expected = losses["hm_loss"] + 0.1 * losses["wh_loss"] + losses["mov_loss"]
    assert losses["loss"].item() == pytest.approx(expected.item())
    losses["loss"].backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in output.values())


def test_criterion_on_several_classes_and_a_class_count_mismatch():
    torch.manual_seed(0)
    k, grid = 2, 4
    output = {"hm": torch.randn(1, 2, grid, grid), "wh": torch.randn(1, 2 * k, grid, grid),
              "mov": torch.randn(1, 2 * k, grid, grid)}
    hm = torch.zeros(1, 2, grid, grid)
    hm[0, 1, 1, 1] = 1  # the object is of class 1
    batch = {
        "hm": hm, "index": torch.tensor([[5]]), "index_all": torch.tensor([[[5, 5, 6, 6]]]),
        "mask": torch.tensor([[1.0]]), "wh": torch.ones(1, 1, 2 * k),
        "mov": torch.zeros(1, 1, 2 * k),
    }
    criterion = CenterNetLoss()
    losses = criterion(output, batch)
    assert torch.isfinite(losses["loss"])
    expected = focal_loss(torch.sigmoid(output["hm"]).clamp(1e-4, 1 - 1e-4), hm)
    assert losses["hm_loss"].item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="model.heads.num_classes must equal"):
        criterion({**output, "hm": output["hm"][:, :1]}, batch)


def test_sta_follows_the_strongest_peak_of_any_class():
    from iodvideo.losses import key_peak, sta_centres

    prob = torch.full((1, 2, 5, 6), 0.01)
    prob[0, 0, 1, 2] = 0.5
    prob[0, 1, 3, 4] = 0.9  # class 1's peak is the strongest: row 3, column 4
    assert key_peak(prob).tolist() == [[3 * 6 + 4]]
    assert key_peak(prob[:, :1]).tolist() == [[1 * 6 + 2]]  # one class: as before
    centres = sta_centres(prob, torch.zeros(1, 4, 5, 6))
    assert centres.tolist() == [[[4.0, 3.0], [4.0, 3.0]]]
