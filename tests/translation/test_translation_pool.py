"""The CycleGAN image pool: fill phase, ½ swap probability once full, exact state round trip."""

import io

import pytest
import torch

from ganops.translation.pool import ImagePool


def _ids(images: torch.Tensor) -> list[int]:
    return [int(x) for x in images[:, 0, 0, 0]]


def _image(i: int) -> torch.Tensor:
    return torch.full((1, 1, 2, 2), float(i))  # an image that carries its own id


def test_fill_phase_returns_the_new_fakes():
    pool = ImagePool(size=4, seed=0)
    out = pool.query(torch.cat([_image(i) for i in range(3)]))
    assert _ids(out) == [0, 1, 2] and pool.count == 3


def test_once_full_half_the_answers_are_past_fakes():
    pool = ImagePool(size=50, seed=123)
    pool.query(torch.cat([_image(i) for i in range(50)]))
    inserted = set(range(50))
    past = 0
    trials = 4000
    for i in range(50, 50 + trials):
        (answer,) = _ids(pool.query(_image(i)))
        if answer != i:
            past += 1
            assert answer in inserted  # a fake that was stored earlier
            assert i in _ids(pool.images)  # and the new fake took its slot
        inserted.add(i)
    assert abs(past / trials - 0.5) < 0.03  # binomial sd 0.008 at 4,000 trials


def test_size_zero_passes_through():
    pool = ImagePool(size=0)
    x = torch.randn(3, 1, 2, 2)
    assert torch.equal(pool.query(x), x)


def test_round_trip_is_exact_and_global_rng_untouched():
    stream = torch.randn(40, 2, 1, 3, 3, generator=torch.Generator().manual_seed(0))  # 40 batches of 2
    pool = ImagePool(size=5, seed=7)
    global_state = torch.get_rng_state()
    for batch in stream[:20]:
        pool.query(batch)
    assert torch.equal(torch.get_rng_state(), global_state)
    buffer = io.BytesIO()
    torch.save(pool.state_dict(), buffer)
    buffer.seek(0)
    restored = ImagePool(size=5, seed=999)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    for batch in stream[20:]:
        assert torch.equal(pool.query(batch), restored.query(batch))
    assert torch.equal(pool.images, restored.images)
    with pytest.raises(ValueError, match="pool_size"):
        ImagePool(size=3).load_state_dict(pool.state_dict())
