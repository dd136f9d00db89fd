"""STAloss against protocol §14, gradients, masking, and the STA-mode criterion."""

import pytest
import torch

from iodvideo.losses import (
    CenterNetLoss,
    STALoss,
    key_peak,
    sta_centres,
    sta_loss,
    sta_pair_terms,
)
from iodvideo.models.heads import ClipHeads

# protocol §14: K = 3, Z = 4
P14 = [[10.0, 10.0], [11.0, 10.5], [13.0, 12.0]]
G14 = [[10.5, 10.0], [11.5, 11.0], [12.0, 12.0]]


def test_parity_numbers_of_section_14():
    pred, gt = torch.tensor([P14], dtype=torch.float64), torch.tensor([G14], dtype=torch.float64)
    l_sin, l_cos = sta_pair_terms(pred, gt, zeta_sq=4.0)
    assert l_sin[0].tolist() == pytest.approx([0.129757, 0.158501], abs=1e-6)
    assert l_cos[0].tolist() == pytest.approx([0.025224, 0.037101], abs=1e-6)
    terms = STALoss(zeta_sq=4.0, lam=0.5)(pred, gt, torch.ones(1))
    assert terms.sin.item() == pytest.approx(0.144129, abs=1e-6)
    assert terms.cos.item() == pytest.approx(0.031163, abs=1e-6)
    assert terms.loss.item() == pytest.approx(0.175292, abs=1e-6)
    # float32 (what training uses) agrees to the printed precision
    f32 = sta_loss(pred.float(), gt.float())
    assert f32.loss.item() == pytest.approx(0.175292, abs=2e-6)


def test_legacy_and_clean_agree_when_every_clip_has_an_object():
    torch.manual_seed(0)
    pred, gt = torch.randn(3, 5, 2) * 4, torch.randn(3, 5, 2) * 4
    clean = sta_loss(pred, gt, torch.ones(3))
    legacy = sta_loss(pred, gt, torch.ones(3), legacy=True)
    assert torch.allclose(clean.loss, legacy.loss) and torch.allclose(clean.sin, legacy.sin)


def test_empty_clips_masked_by_default_and_zero_gt_in_legacy():
    pred = torch.tensor([P14, P14], dtype=torch.float64)
    gt = torch.tensor([G14, [[50.0, 50.0]] * 3], dtype=torch.float64)
    mask = torch.tensor([1.0, 0.0])
    clean = sta_loss(pred, gt, mask)
    assert clean.loss.item() == pytest.approx(0.175292, abs=1e-6)  # the empty clip is ignored
    legacy = sta_loss(pred, gt, mask, legacy=True)
    zero_gt = sta_loss(pred[1:], torch.zeros_like(gt[1:]))  # reference: empty clip GT = (0, 0)
    expected = (0.175292 + zero_gt.loss.item()) / 2
    assert legacy.loss.item() == pytest.approx(expected, abs=1e-6)
    # no gradient reaches the empty clip's prediction in clean mode
    p = pred.clone().requires_grad_(True)
    sta_loss(p, gt, mask).loss.backward()
    assert p.grad[1].abs().sum() == 0 and p.grad[0].abs().sum() > 0
    # all clips empty: zero loss, finite (zero) gradient
    p.grad = None
    out = sta_loss(p, gt, torch.zeros(2))
    out.loss.backward()
    assert out.loss.item() == 0 and torch.all(p.grad == 0)


def test_gradcheck_float64():
    torch.manual_seed(1)
    pred = (torch.randn(2, 4, 2, dtype=torch.float64) * 3).requires_grad_(True)
    gt = torch.randn(2, 4, 2, dtype=torch.float64) * 3
    assert torch.autograd.gradcheck(lambda p: sta_loss(p, gt).loss, (pred,))


@pytest.mark.parametrize("case", ["static_gt", "coincide", "static_and_coincide"])
def test_gradients_finite_in_degenerate_cases(case):
    if case == "static_gt":
        gt = torch.full((1, 4, 2), 7.0)
        pred = torch.tensor([[[6.0, 7.0], [7.5, 8.0], [9.0, 6.0], [7.0, 7.0]]])
    elif case == "coincide":
        gt = torch.tensor([[[1.0, 2.0], [3.0, 5.0], [4.0, 4.0], [8.0, 1.0]]])
        pred = gt.clone()
    else:
        gt = torch.full((1, 4, 2), 3.0)
        pred = gt.clone()
    pred.requires_grad_(True)
    out = sta_loss(pred, gt)
    out.loss.backward()
    assert torch.isfinite(out.loss) and torch.all(torch.isfinite(pred.grad))
    if case != "static_gt":  # perfect prediction: sines ~ sqrt(eps)/2, cosines 1
        assert out.cos.item() == pytest.approx(0.0, abs=1e-6)
        assert out.sin.item() < 1e-3


def test_zeta_sq_is_additive_and_must_be_positive():
    pred, gt = torch.tensor([P14]), torch.tensor([G14])
    assert sta_loss(pred, gt, zeta_sq=16).loss.item() != pytest.approx(0.175292, abs=1e-4)
    with pytest.raises(ValueError, match="zeta_sq"):
        STALoss(zeta_sq=0)


def test_key_peak_and_sta_centres_use_offset_scale():
    prob = torch.full((1, 1, 6, 6), 0.1)
    prob[0, 0, 2, 4] = 0.9  # y=2, x=4
    prob[0, 0, 5, 0] = 0.8
    assert key_peak(prob).tolist() == [[2 * 6 + 4]]
    sta = torch.zeros(1, 4, 6, 6)
    sta[0, :, 2, 4] = torch.tensor([0.5, -0.25, 0.0, 1.0])
    centres = sta_centres(prob, sta, offset_scale=18.0)
    assert centres.tolist() == [[[4 + 9.0, 2 - 4.5], [4.0, 2 + 18.0]]]


def _batch(k: int, grid: int, mask: float = 1.0) -> dict[str, torch.Tensor]:
    hm = torch.zeros(2, 1, grid, grid)
    hm[:, 0, 3, 3] = 1
    centres = torch.tensor([[3.2, 3.1], [3.6, 3.4]] * (k // 2)).reshape(1, 1, 2 * k)
    return {
        "hm": hm, "index": torch.full((2, 1), 27), "index_all": torch.full((2, 1, 2 * k), 27),
        "mask": torch.full((2, 1), mask), "wh": torch.ones(2, 1, 2 * k),
        "mov": torch.zeros(2, 1, 2 * k), "centers": centres.expand(2, 1, 2 * k).clone(),
    }


def test_criterion_sta_mode_replaces_movement_loss_and_trains_only_the_sta_head():
    torch.manual_seed(0)
    k, grid = 2, 8
    heads = ClipHeads(in_channels=4, clip_len=k, head_conv=8, wh_head_conv=8)
    out = heads(torch.randn(2 * k, 4, grid, grid))
    assert out["sta"].shape == (2, 2 * k, grid, grid) and out["sta"].abs().max() < 1
    criterion = CenterNetLoss(sta=True, zeta_sq=4.0, offset_scale=2.0)
    losses = criterion(out, _batch(k, grid))
    assert "mov_loss" not in losses and {"sta_loss", "sta_sin_loss", "sta_cos_loss"} <= set(losses)
    expected = losses["hm_loss"] + 0.1 * losses["wh_loss"] + losses["sta_loss"]
    assert losses["loss"].item() == pytest.approx(expected.item())
    losses["sta_loss"].backward()
    grads = {name: p.grad for name, p in heads.named_parameters()}
    assert all(g is not None and g.abs().sum() > 0 for n, g in grads.items() if n.startswith("sta"))
    assert all(g is None for n, g in grads.items() if not n.startswith("sta"))


def test_criterion_mov_mode_leaves_the_sta_head_untrained():
    torch.manual_seed(0)
    k, grid = 2, 8
    heads = ClipHeads(in_channels=4, clip_len=k, head_conv=8, wh_head_conv=8)
    losses = CenterNetLoss(sta=False)(heads(torch.randn(2 * k, 4, grid, grid)), _batch(k, grid))
    assert "mov_loss" in losses and "sta_loss" not in losses
    losses["loss"].backward()
    assert all(p.grad is None for p in heads.sta.parameters())
    assert all(p.grad is not None for p in heads.mov.parameters())


def test_criterion_in_bf16_stays_finite():
    torch.manual_seed(0)
    k, grid = 2, 8
    heads = ClipHeads(in_channels=4, clip_len=k, head_conv=8, wh_head_conv=8)
    out = {n: v.to(torch.bfloat16) for n, v in heads(torch.randn(2 * k, 4, grid, grid)).items()}
    out["hm"] = out["hm"] + 20  # saturated: bf16 sigmoid would round to exactly 1
    losses = CenterNetLoss(sta=True)(out, _batch(k, grid))
    assert all(torch.isfinite(v) for v in losses.values())
