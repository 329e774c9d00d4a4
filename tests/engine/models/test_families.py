"""The family table is the one every layer reads: training and inference cover it exactly."""

import pytest

from engine.infer.embedders import EMBEDDERS
from engine.models.families import FAMILIES, Family
from engine.models.registry import find_model
from engine.training.objectives.registry import OBJECTIVES


def test_every_family_trains_and_nothing_else_does():
    assert set(OBJECTIVES) == set(FAMILIES)
    assert set(EMBEDDERS) <= set(FAMILIES)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_family_names_itself_on_its_model_and_embeds(name):
    family = FAMILIES[name]
    assert family.model.family == name
    assert "embed" in family.capabilities and callable(family.model.embed)
    assert hasattr(family.config, "from_dict") and hasattr(family.config, "to_dict")


def test_shipped_models_take_their_capabilities_from_the_table():
    for name in ("atcat-plasticc", "rtf-plasticc"):
        info = find_model(name)
        assert info.capabilities == FAMILIES[info.family].capabilities


@pytest.mark.parametrize(
    "capabilities", [frozenset({"classify"}), frozenset({"embed", "telepathy"})]
)
def test_a_family_must_embed_and_claim_known_capabilities_only(capabilities):
    atcat = FAMILIES["atcat"]
    with pytest.raises(ValueError, match="capabilities"):
        Family("new", atcat.config, atcat.model, capabilities)
