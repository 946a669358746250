"""The `translation` params section: reference defaults per family, one-line errors naming the key."""

import pytest

from ganops.config.params import TRANSLATION_FAMILIES, TRANSLATION_PAIRS, ConfigError, parse_params
from ganops.translation import cyclegan, pix2pix
from ganops.translation.families import FAMILY_NAMES
from ganops.translation.pairs import PAIR_SOURCES


def _translation(section: dict):
    return parse_params({"translation": section}).translation


def test_family_defaults_are_the_reference_ones():
    variants = _translation({"variants": {"pix2pix": {}, "cyclegan": {}}}).variants
    for family in (pix2pix, cyclegan):
        cfg = variants[family.NAME].model_dump()
        assert cfg["family"] == family.NAME
        assert {k: cfg[k] for k in family.DEFAULTS} == family.DEFAULTS  # config and family agree


def test_registries_named_in_the_config_match_the_code():
    assert set(TRANSLATION_PAIRS) == set(PAIR_SOURCES)
    assert tuple(TRANSLATION_FAMILIES) == FAMILY_NAMES


def test_a_variant_of_another_name_says_its_family():
    cfg = _translation({"variants": {"small": {"family": "cyclegan", "resnet_blocks": 2}}}).variants["small"]
    assert cfg.family == "cyclegan" and cfg.lambda_cycle == 10.0 and cfg.lambda_l1 is None


@pytest.mark.parametrize(
    "section, message",
    [
        ({"variants": {"pix2pix": {"lambda_cycle": 1.0}}},
         "translation.variants.pix2pix: lambda_cycle: not a setting of family 'pix2pix'"),
        ({"variants": {"p": {}}}, "translation.variants.p.family: Field required"),
        ({"variants": {"cyclegan": {"lr": 0}}}, "translation.variants.cyclegan.lr: Input should be greater than 0"),
        ({"variants": {}}, "translation.variants: define at least one translator variant"),
        ({"source": "folder:photos"}, "translation.source: must be mnist_to_mnistm, edges_to_mnist or folder:<A>,folder:<B>"),  # noqa: E501
        ({"source": "mnist"}, "translation.source: must be"),
        ({"variants": {"pix2pix": {"gan_loss": "wgan_gp"}}}, "translation.variants.pix2pix.gan_loss"),
        ({"unknown": 1}, "unknown key 'translation.unknown'"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_errors(section, message):
    with pytest.raises(ConfigError) as info:
        _translation(section)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_folder_source_is_accepted():
    assert _translation({"source": "folder:data/raw/A,folder:data/raw/B"}).source.count("folder:") == 2
