from dataclasses import replace

import pytest
import torch

from engine.data.batching import Batch
from engine.models.atcat import ATCAT
from engine.models.atcat.append import appended_logits, encode_prefix

FIELDS = ("time", "flux", "flux_err", "wavelength", "mask")


def head(batch: Batch, n: int) -> Batch:
    return Batch(**{f: getattr(batch, f)[:, :n] for f in FIELDS}, metadata=batch.metadata)


@pytest.mark.parametrize("n_metadata", [0, 2])
def test_appended_point_classified_as_by_the_full_forward_pass(
    small_config, make_batch, n_metadata
):
    config = small_config if n_metadata else replace(small_config, metadata_names=())
    model = ATCAT(config).eval()
    batch = make_batch([12], n_metadata=n_metadata, span=15.0)  # local windows matter
    prefix = encode_prefix(model, head(batch, 8))
    with torch.no_grad():
        expected = torch.stack([model(head(batch, n + 1)).class_logits[0, n] for n in (8, 9)])
        # points 8 and 9 appended each alone after the first 8: rebuild point 9 as an extension
        extension = {f: batch.__dict__[f][0, [8, 9]] for f in FIELDS[:-1]}
        got = appended_logits(model, prefix, **extension)
        reference_9 = model(
            Batch(
                **{
                    f: torch.cat([getattr(batch, f)[:, :8], getattr(batch, f)[:, 9:10]], dim=1)
                    for f in FIELDS
                },
                metadata=batch.metadata,
            )  # fmt: skip
        ).class_logits[0, 8]
    torch.testing.assert_close(got[0], expected[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[1], reference_9, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        prefix.logits, model(head(batch, 8)).class_logits[0, 7].detach(), atol=1e-5, rtol=1e-5
    )


def test_encode_prefix_takes_one_object(small_config, make_batch):
    with pytest.raises(ValueError, match="batch of one object"):
        encode_prefix(ATCAT(small_config).eval(), make_batch([5, 5], n_metadata=2))
