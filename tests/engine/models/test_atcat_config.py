import json

import pytest

from engine.models.atcat import ATCATConfig


def test_defaults_follow_the_paper():
    config = ATCATConfig()
    assert config.n_heads * config.head_dim == 64
    assert config.local_windows == (1.0, 10.0)
    assert config.n_logits == 1  # only "unsure" without classes
    assert not config.has_metadata


def test_json_round_trip_gives_an_equal_config():
    config = ATCATConfig(class_names=("a", "b"), metadata_names=("mwebv",), dropout=0.1)
    restored = ATCATConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config
    assert restored.n_logits == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("d_model", 33),
        ("d_model", 0),
        ("n_layers", 1),  # two local windows need two layers
        ("local_windows", (1.0, -2.0)),
        ("t_max", 0.0),
        ("time_exponent_range", (1.0, -0.1)),
        ("float_scales", ()),
        ("wavelength_range", (9000.0, 4000.0)),
        ("class_names", ("a", "a")),
        ("metadata_names", ("",)),
        ("n_mixture", 1),
        ("dropout", 1.0),
    ],
)
def test_invalid_values_raise_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ATCATConfig(**{field: value})


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="d_modle"):
        ATCATConfig.from_dict({"d_modle": 64})
