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


# The two longest groups, started first so that neither is left running alone at the end.
LONG_FIRST = ("tiny_repo", "tests/integration/test_retrain_flow.py")


def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest-xdist workers with `--dist loadgroup --no-loadscope-reorder`: every test
    that uses the session's tiny DVC repo goes to one worker (it is built once, not once per worker), the
    other tests travel one file at a time (their module-scoped fixtures are built once too), and the two
    longest groups start first, one on each worker (a stable sort: the order within a file is kept)."""
    groups = {}
    for item in items:
        group = "tiny_repo" if "tiny_repo" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
        groups[item.nodeid] = group
    items.sort(key=lambda item: LONG_FIRST.index(g) if (g := groups[item.nodeid]) in LONG_FIRST else len(LONG_FIRST))
