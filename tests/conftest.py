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


# `make test` runs two pytest-xdist workers. Tests that share an expensive fixture must run on one worker,
# or each worker builds its own: the session's tiny DVC repo (tests/integration/conftest.py) serves these
# files, the other files travel whole (their module-scoped fixtures, and the in-order tests of the retrain
# flow, stay together). xdist's own `--dist loadgroup` cannot do it under pytest 9 (it renames node ids
# through an attribute pytest 9 no longer reads), so the groups are given to xdist's scheduler here.
TINY_REPO_FILES = frozenset(
    f"tests/integration/{name}.py"
    for name in ("test_detector_pipeline", "test_experiments", "test_pipeline", "test_translation_pipeline",
                 "test_video_pipeline")
)  # fmt: skip
# The two longest groups, started first, one per worker, so that neither is left running alone at the end.
LONG_FIRST = ("tiny_repo", "tests/integration/test_retrain_flow.py")


def group_of(nodeid: str) -> str:
    file = nodeid.split("::")[0]
    return "tiny_repo" if file in TINY_REPO_FILES else file


def pytest_collection_modifyitems(config, items):
    """Check that every user of the tiny repo is in TINY_REPO_FILES, and put the two longest groups first
    (a stable sort: the order within a file is kept)."""
    strays = sorted({i.nodeid.split("::")[0] for i in items if "tiny_repo" in getattr(i, "fixturenames", ())}
                    - TINY_REPO_FILES)  # fmt: skip
    if strays:
        raise pytest.UsageError(f"tests/conftest.py: add {strays} to TINY_REPO_FILES (they use tiny_repo)")
    rank = {group: index for index, group in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(group_of(item.nodeid), len(LONG_FIRST)))


def pytest_xdist_make_scheduler(config, log):
    """With `make test`'s `-n 2 --dist loadgroup`: xdist's scope scheduler over group_of()."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)
