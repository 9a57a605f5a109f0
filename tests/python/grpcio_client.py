"""A grpcio (C-core) client against a running posdiagd on a unix socket.

Run by tests/tests/interop_grpcio.rs:

    python grpcio_client.py SOCKET STUBS_DIR TERMINAL_ID

C-core clients send the socket path (percent-encoded) as the HTTP/2
:authority, which is no valid URI authority; posdiagd must still answer.
Every check failure exits non-zero with a line saying what differed.
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> None:
    socket, stubs, terminal = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, stubs)
    from posdiag.v1 import check_pb2, check_pb2_grpc, finding_pb2
    from posdiag.v1 import terminal_pb2, terminal_pb2_grpc

    with grpc.insecure_channel(f"unix:{socket}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        terminals = terminal_pb2_grpc.TerminalServiceStub(channel)
        checks = check_pb2_grpc.CheckServiceStub(channel)

        status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status
        expect(status == health_pb2.HealthCheckResponse.SERVING, f"health: {status}")
        print("health: SERVING")

        listed = terminals.ListTerminals(terminal_pb2.ListTerminalsRequest(), timeout=10)
        ids = [t.id for t in listed.terminals]
        expect(ids == [terminal], f"ListTerminals ids: {ids}, want [{terminal!r}]")
        print(f"ListTerminals: {ids}")

        # A server-streaming call: progress, findings, then Completed.
        events = list(
            checks.RunCheck(
                check_pb2.RunCheckRequest(terminal_id=terminal, checks=["host.tcp"]),
                timeout=30,
            )
        )
        kinds = [e.WhichOneof("event") for e in events]
        expect(kinds and kinds[-1] == "completed", f"RunCheck events: {kinds}")
        tcp = [e.finding for e in events if e.HasField("finding") and e.finding.check == "host.tcp"]
        expect(len(tcp) == 1, f"RunCheck host.tcp findings: {tcp}")
        expect(tcp[0].verdict == finding_pb2.VERDICT_OK, f"host.tcp finding: {tcp[0]}")
        done = events[-1].completed
        expect(done.overall == finding_pb2.VERDICT_OK, f"RunCheck completed: {done}")
        print(f"RunCheck: {len(events)} events, host.tcp OK")

        # An error status must arrive as a status, not as a reset stream.
        try:
            terminals.GetTerminal(terminal_pb2.GetTerminalRequest(id="NO-SUCH-TERMINAL"), timeout=10)
            fail("GetTerminal of an unknown id succeeded")
        except grpc.RpcError as e:
            expect(e.code() == grpc.StatusCode.NOT_FOUND, f"GetTerminal: {e.code()} {e.details()}")
            expect("NO-SUCH-TERMINAL" in e.details(), f"GetTerminal details: {e.details()!r}")
        print("GetTerminal unknown id: NOT_FOUND")

        # The client's HPACK encoder now refers to headers it indexed above.
        again = terminals.GetTerminal(terminal_pb2.GetTerminalRequest(id=terminal), timeout=10)
        expect(again.id == terminal, f"GetTerminal: {again.id!r}")
        print("GetTerminal: ok")
    print("grpcio interop: all calls answered")


def expect(ok: bool, what: str) -> None:
    if not ok:
        fail(what)


def fail(what: str) -> None:
    print(f"FAILED: {what}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
