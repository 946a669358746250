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


def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist workers with `--dist loadgroup`: every test that uses the session's
    tiny DVC repo goes to one worker (it is built once, not once per worker), and the other tests travel
    one file at a time (their module-scoped fixtures are built once too)."""
    for item in items:
        group = "tiny_repo" if "tiny_repo" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
