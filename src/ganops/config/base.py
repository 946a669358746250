"""Building blocks every params section shares: strict frozen models, bounded numbers, the three-way
split, the `lr` shorthand. No section imports another section's module for these."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveFloat = Annotated[float, Field(gt=0)]
# Above 1 no optimiser used here converges; `lr: 1e6` used to train to garbage and exit 0.
LearningRate = Annotated[float, Field(gt=0, le=1)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # .inf / .nan: no


class SplitConfig(_Strict):
    """Fractions of the real images in each of the three disjoint sets (must sum to 1)."""

    gan_train: Fraction = 0.6
    detector_train: Fraction = 0.2
    test: Fraction = 0.2

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        total = self.gan_train + self.detector_train + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"gan_train + detector_train + test must sum to 1 (got {total:g})")
        return self


def distinct(value: list[str], what: str) -> list[str]:
    """`value` when it is a non-empty list without repeats, else the ValueError a validator raises."""
    if not value or len(set(value)) != len(value):
        raise ValueError(f"must list distinct {what} (got {value!r})")
    return value


def expand_lr(fields: Any) -> Any:
    """{"lr": x, ...} -> {"lr_g": x, "lr_d": x, ...}; `lr` beside lr_g / lr_d is ambiguous: an error."""
    if isinstance(fields, dict) and "lr" in fields:
        both = sorted({"lr_g", "lr_d"} & set(fields))
        if both:
            raise ValueError(f"lr sets both lr_g and lr_d; remove {' and '.join(both)} or lr")
        fields = dict(fields)
        lr = fields.pop("lr")
        fields.update(lr_g=lr, lr_d=lr)
    return fields
