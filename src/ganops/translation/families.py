"""The translation families by name, for the shared training loop (`ganops.training`)."""

from __future__ import annotations

from ganops.translation._contract import Family
from ganops.translation.cyclegan import CYCLEGAN
from ganops.translation.pix2pix import PIX2PIX

TRANSLATION_FAMILIES: dict[str, Family] = {family.name: family for family in (PIX2PIX, CYCLEGAN)}
