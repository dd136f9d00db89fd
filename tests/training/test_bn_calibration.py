"""BatchNorm recalibration before validation."""

import torch
from torch import nn

from iodvideo.training.bn_calibration import recalibrate_batchnorm


def test_statistics_become_the_plain_mean_of_the_batch_statistics():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3, momentum=0.01)
    model = nn.Sequential(nn.Conv2d(3, 3, 1), bn, nn.Dropout(0.5)).eval()
    batches = [torch.randn(4, 3, 5, 5) * (i + 1) + i for i in range(3)]
    used = recalibrate_batchnorm(model, batches, model)
    assert used == 3
    conv_out = [model[0](b).detach() for b in batches]
    means = torch.stack([o.mean((0, 2, 3)) for o in conv_out])
    variances = torch.stack([o.var((0, 2, 3), unbiased=True) for o in conv_out])
    torch.testing.assert_close(bn.running_mean, means.mean(0))
    torch.testing.assert_close(bn.running_var, variances.mean(0))
    # modes and momentum restored: the model is still in eval mode, dropout untouched
    assert not model.training and not bn.training and bn.momentum == 0.01


def test_a_fast_trained_model_evaluates_like_it_trains_after_recalibration():
    """Momentum 0.01 (the neck's) leaves the running statistics far from the trained
    network's after a few fast steps: eval-mode output differs from train-mode output until
    the statistics are recomputed."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8, momentum=0.01),
                          nn.ReLU(), nn.Conv2d(8, 1, 1))
    x, target = torch.randn(8, 2, 6, 6) * 3 + 2, torch.randn(8, 1, 6, 6)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(30):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), target).backward()
        optimizer.step()
    with torch.no_grad():
        trained = model.train()(x)
        stale = model.eval()(x)
        assert (stale - trained).abs().max() > 0.1
        recalibrate_batchnorm(model, [x], model)
        # running_var stores the unbiased variance (n/(n-1), n = 288 values per channel):
        # normalised maps differ from training mode's by ~1/(2n) ≈ 2e-3 of their O(1) size
        torch.testing.assert_close(model.eval()(x), trained, rtol=0, atol=1e-2)


def test_no_batch_keeps_the_old_statistics():
    bn = nn.BatchNorm1d(2)
    bn.running_mean.fill_(3.0)
    assert recalibrate_batchnorm(nn.Sequential(bn), [], bn) == 0
    assert bn.running_mean.tolist() == [3.0, 3.0] and bn.momentum == 0.1

