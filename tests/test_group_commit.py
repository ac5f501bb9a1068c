"""Group commit: concurrent submits share transactions, every caller gets its own result, and one
bad item fails alone."""
import asyncio

import pytest

from store.db import unit_of_work
from store.group_commit import GroupCommitter
from store.models import ServerSetting


def _write(items):
    batches.append(len(items))
    for key in items:
        if key == "bad":
            raise ValueError("bad item")
        ServerSetting.insert(key=key, value="v").execute()
    return [f"ok:{key}" for key in items]


batches: list[int] = []


@pytest.mark.gen_test
async def test_concurrent_submits_share_batches_and_fail_alone(ctx):
    batches.clear()
    committer = GroupCommitter("test", _write, window=0.005)
    keys = [f"k{i}" for i in range(100)] + ["bad"]
    results = await asyncio.gather(*(committer.submit(k) for k in keys), return_exceptions=True)
    committer.stop()
    assert results[:100] == [f"ok:k{i}" for i in range(100)]
    assert isinstance(results[100], ValueError)
    with unit_of_work():
        stored = {row.key for row in ServerSetting.select().where(ServerSetting.key.startswith("k"))}
    assert stored == set(keys[:100])
    # Fewer transactions than items: the point of group commit.
    assert len([b for b in batches if b > 1]) >= 1
