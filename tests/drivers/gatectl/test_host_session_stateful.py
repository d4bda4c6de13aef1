"""Hypothesis stateful test of the sans-IO HostSession against the simulated controller core over
a lossy link on a simulated clock: whatever the interleaving of commands, withdrawals, lost and
corrupted frames, every request ends exactly once, nothing is executed twice, nothing withdrawn
is executed, and the session's deadline is always in the future."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from drivers.gatectl import protocol as p
from drivers.gatectl.session import HostSession, Reply, RequestFailed
from simulator.gatectl.device import ControllerDevice, DeviceConfig

STEP = 0.005
COMMANDS = [
    p.GetStatus(),
    p.Heartbeat(),
    p.SetMode(p.Mode.NORMAL),
    p.SetMode(p.Mode.OUT_OF_SERVICE),
    p.DoorCommand(p.Door.ENTRY, p.DoorAction.OPEN),
    p.DoorCommand(p.Door.EXIT, p.DoorAction.CLOSE),
    p.CancelPassage(),
]
Fault = str  # "drop" or "corrupt"


class HostSessionMachine(RuleBasedStateMachine):
    @initialize()
    def connect(self) -> None:
        self.now = 0.0
        self.host = HostSession(response_timeout=0.05, retries=3, heartbeat_interval=0.3)
        self.dev = ControllerDevice(DeviceConfig(time_scale=4.0), now=0.0, seed=3)
        self.faults: dict[str, list[Fault]] = {"to_dev": [], "to_host": []}
        self.submitted: dict[int, p.Message] = {}
        self.withdrawn: set[int] = set()
        self.ended: dict[int, int] = {}  # request id -> terminal outputs seen

    # ------------------------------------------------------------------ the link

    def _through(self, direction: str, data: bytes) -> bytes:
        if not data or not self.faults[direction]:
            return data
        fault = self.faults[direction].pop(0)
        if fault == "drop":
            return b""
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x5A]) + data[middle + 1 :]

    def _run(self, steps: int) -> None:
        for _ in range(steps):
            self.now = round(self.now + STEP, 6)
            self.host.poll(self.now)
            self.dev.receive(self._through("to_dev", self.host.data_to_send()), self.now)
            self.dev.tick(self.now)
            for frame in self.dev.frames_to_send():
                self.host.receive(self._through("to_host", frame), self.now)
            self.dev.receive(self._through("to_dev", self.host.data_to_send()), self.now)
            for out in self.host.outputs():
                if isinstance(out, Reply | RequestFailed) and out.request_id != 0:
                    assert out.request_id in self.submitted, out
                    assert out.command == self.submitted[out.request_id]
                    self.ended[out.request_id] = self.ended.get(out.request_id, 0) + 1

    # ------------------------------------------------------------------ rules

    @rule(command=st.sampled_from(COMMANDS))
    def submit(self, command: p.Message) -> None:
        request_id = self.host.submit(command, self.now)
        assert request_id not in self.submitted and request_id > 0
        self.submitted[request_id] = command

    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        if not self.submitted:
            return
        request_id = data.draw(st.sampled_from(sorted(self.submitted)))
        if self.host.withdraw(request_id):
            assert request_id not in self.ended, "withdrawn after it ended"
            self.withdrawn.add(request_id)

    @rule(steps=st.integers(1, 60))
    def advance(self, steps: int) -> None:
        self._run(steps)

    @rule(
        direction=st.sampled_from(["to_dev", "to_host"]), fault=st.sampled_from(["drop", "corrupt"])
    )
    def fault_next_chunk(self, direction: str, fault: Fault) -> None:
        self.faults[direction].append(fault)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def each_request_ends_at_most_once(self) -> None:
        assert all(count == 1 for count in self.ended.values()), self.ended
        assert not self.withdrawn & set(self.ended)

    @invariant()
    def deadline_is_in_the_future(self) -> None:
        deadline = self.host.deadline()
        assert deadline is None or deadline > self.now

    @invariant()
    def nothing_executed_twice_or_after_withdrawal(self) -> None:
        doors = [c for c in self.dev.executed if isinstance(c, p.DoorCommand)]
        sent = [
            c
            for rid, c in self.submitted.items()
            if isinstance(c, p.DoorCommand) and rid not in self.withdrawn
        ]
        assert len(doors) <= len(sent)

    def teardown(self) -> None:
        if not hasattr(self, "host"):
            return
        self.faults = {"to_dev": [], "to_host": []}
        # a clean link long enough for every queued request: (retries + 1) timeouts each
        self._run(int(len(self.submitted) * 4 * 0.05 / STEP) + 200)
        pending = set(self.submitted) - self.withdrawn
        assert set(self.ended) == pending, (pending - set(self.ended), self.ended)


TestHostSessionStateful = HostSessionMachine.TestCase
TestHostSessionStateful.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
