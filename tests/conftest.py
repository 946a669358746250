"""Shared by every test tier."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The pipeline's own policy (`gan.cpu_threads: 1`): tiny models gain nothing from threads, two OpenMP
    threads on a busy 2-core machine spin-wait each other into large slowdowns, and bit-exact checks
    need one thread count throughout."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
