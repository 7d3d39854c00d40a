"""The background refresher: batches are refreshed first; deferred work (the answers) runs only
when no refresh is queued, a bounded step at a time, and wait_idle waits for it too."""

from __future__ import annotations

import threading

from api.refresh import MasteryRefresher


class Recorder:
    """A fake of :class:`api.answers.RefreshAndAnswer`: records calls; ``refresh`` can be held
    so writes pile up meanwhile."""

    def __init__(self, steps_left: int = 2):
        self.calls: list[tuple] = []
        self.hold = threading.Event()
        self.hold.set()
        self.backlog = 0
        self.steps_left = steps_left

    def refresh(self, tenant_id, educator_ids, *, trigger):
        self.hold.wait(10)
        self.calls.append(("refresh", tenant_id, tuple(educator_ids)))
        self.backlog += 1

    def settle(self) -> bool:
        self.calls.append(("settle",))
        self.steps_left -= 1
        return self.steps_left > 0


def test_deferred_work_waits_for_the_queue_and_runs_in_steps():
    fake = Recorder(steps_left=2)
    fake.hold.clear()
    refresher = MasteryRefresher(fake, batch_size=10)
    try:
        refresher.enqueue("t", ["A"])  # taken at once, held in refresh
        for e in ["B", "C", "B"]:  # queued meanwhile: one more batch, B once
            refresher.enqueue("t", [e])
        fake.hold.set()
        assert refresher.wait_idle(10)
        refreshes = [c for c in fake.calls if c[0] == "refresh"]
        assert [c[2] for c in refreshes] in ([("A",), ("B", "C")], [("A", "B", "C")])
        first_settle = fake.calls.index(("settle",))
        assert all(c[0] == "settle" for c in fake.calls[first_settle:])  # after every refresh
        assert fake.calls.count(("settle",)) == 2  # until it says nothing is left
    finally:
        refresher.close()


def test_a_failing_step_is_logged_and_the_thread_goes_on(caplog):
    class Failing(Recorder):
        def settle(self) -> bool:
            self.calls.append(("settle",))
            raise RuntimeError("boom")

    fake = Failing()
    refresher = MasteryRefresher(fake)
    try:
        refresher.enqueue("t", ["A"])
        assert refresher.wait_idle(10)
        refresher.enqueue("t", ["B"])
        assert refresher.wait_idle(10)
        assert [c for c in fake.calls if c[0] == "refresh"] == [("refresh", "t", ("A",)),
                                                                ("refresh", "t", ("B",))]
        assert "background refresh failed" in caplog.text
    finally:
        refresher.close()
