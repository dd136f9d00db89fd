"""A NaN/inf loss stops training with the step and the term, and keeps the last checkpoint."""

import math

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from iodvideo.checkpointing import SafeCheckpointIO
from iodvideo.training.lightning_module import IODLitModule, NonFiniteLossError


class _TinyDetector(nn.Module):
    clip_len = 2

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))

    def forward(self, video):
        return {"hm": video.sum() * self.weight}


class _NaNAtCall(nn.Module):
    """hm_loss becomes ``bad`` on the ``at``-th call (0-based)."""

    def __init__(self, at, bad, term="hm_loss"):
        super().__init__()
        self.calls, self.at, self.bad, self.term = 0, at, bad, term

    def forward(self, output, batch):
        value = output["hm"].square().mean()
        terms = {"hm_loss": value, "wh_loss": value * 0.5}
        if self.calls == self.at:
            terms[self.term] = terms[self.term] * self.bad
        self.calls += 1
        return {"loss": terms["hm_loss"] + terms["wh_loss"], **terms}


def _fit(tmp_path, criterion):
    data = DataLoader([{"video": torch.full((2,), 0.1 * i)} for i in range(6)], batch_size=1)
    module = IODLitModule(
        _TinyDetector(), criterion, optimizer=lambda params: torch.optim.SGD(params, lr=0.1)
    )
    last = ModelCheckpoint(dirpath=tmp_path, filename="last", monitor=None, save_top_k=1,
                           every_n_train_steps=1, enable_version_counter=False)
    trainer = pl.Trainer(
        max_epochs=1, accelerator="cpu", logger=False, enable_progress_bar=False,
        enable_model_summary=False, limit_val_batches=0, callbacks=[last],
        plugins=[SafeCheckpointIO()],
    )
    trainer.fit(module, train_dataloaders=data)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_term_stops_with_step_and_term_and_keeps_last_checkpoint(tmp_path, bad):
    with pytest.raises(NonFiniteLossError) as info:
        _fit(tmp_path, _NaNAtCall(at=3, bad=bad, term="wh_loss"))
    message = str(info.value)
    assert "global step 3" in message and "wh_loss" in message
    assert str(tmp_path / "last.ckpt") in message
    ckpt = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 3  # the last good step, nothing saved after the bad one
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values())


def test_nonfinite_total_with_finite_terms_blames_the_weights(tmp_path):
    class _BadWeight(_NaNAtCall):
        def forward(self, output, batch):
            out = super().forward(output, batch)
            out["loss"] = out["loss"] * math.nan
            return out

    with pytest.raises(NonFiniteLossError, match=r"global step 0 .*weighted sum.*no checkpoint"):
        _fit(tmp_path, _BadWeight(at=-1, bad=1.0))
