#!/usr/bin/env python3
"""A minimal Tenure provisioning connector, written from the contract alone.

It demonstrates that a connector needs nothing from Tenure but its protobuf files
(proto/tenure/lifecycle/v1/*.proto) and the Kafka conventions written in
commands.proto:

- the Python classes are generated at start-up from ../../proto with grpcio-tools,
  into a temporary directory (nothing generated is kept or committed);
- commands are read from `tenure.commands.v1` (CloudEvents binary mode: `ce_type`
  names the message, `tenure_target_system` the system whose connector executes it);
  commands for other systems are skipped;
- each command is "executed" against a tiny target, a JSON state file mapping an
  account name to its sorted "resource:permission" strings;
- commands are deduplicated by `command_id`: a redelivered command is not executed
  again, its stored outcome is published again unchanged (same attempt, same time),
  so Tenure sees the same fact, not a new one;
- every command is acknowledged with a `CommandOutcome` on `tenure.outcomes.v1`, and
  its offset is committed only once the broker confirmed the outcome's delivery.

The state file looks like:

    {"accounts":  {"ada": ["repo-x:admin"]},
     "processed": {"<command_id>": {"status": "COMMAND_STATUS_DONE", "deliveries": 1,
                                    "attempt": 1,
                                    "completed_time": "2026-01-02T03:04:05.000000Z",
                                    "detail": "repo-x:admin of ada changed"}}}

Run `python connector.py --help` for the options; README.md shows a full run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.resources
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from google.protobuf.message import DecodeError

COMMANDS_TOPIC = "tenure.commands.v1"
OUTCOMES_TOPIC = "tenure.outcomes.v1"
# The contract's proto files, found relative to this script (tests/connector-python/).
PROTO_DIR = Path(__file__).resolve().parent.parent.parent / "proto"


# --- Generated classes -------------------------------------------------------------


def generate_classes(out_dir: Path):
    """Compiles Tenure's .proto files into `out_dir` and imports the two modules.

    grpc_tools ships protoc and the well-known types (google/protobuf/timestamp.proto)
    in its `_proto` directory, which is added to the include path.
    """
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    protos = sorted(str(p) for p in PROTO_DIR.rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc",
         f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={out_dir}", *protos],
        check=True,
    )
    # The generated modules import each other as `tenure.lifecycle.v1.*_pb2`
    # (namespace packages: protoc writes no __init__.py, Python needs none).
    sys.path.insert(0, str(out_dir))
    lifecycle = importlib.import_module("tenure.lifecycle.v1.lifecycle_pb2")
    commands = importlib.import_module("tenure.lifecycle.v1.commands_pb2")
    return lifecycle, commands


# --- The target system: a JSON file ------------------------------------------------


class StateFile:
    """The target's accounts plus the connector's ledger of processed commands.

    Saved atomically (write a temporary file, then rename) after every change, so a
    crash leaves either the old or the new state, never half of one.
    """

    def __init__(self, path: Path):
        self.path = path
        data = json.loads(path.read_text()) if path.exists() else {}
        self.accounts: dict[str, list[str]] = data.get("accounts", {})
        self.processed: dict[str, dict] = data.get("processed", {})

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(
            {"accounts": self.accounts, "processed": self.processed}, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def grant(self, account: str, access: str) -> bool:
        """Adds `access` to `account`; False when it was already there."""
        held = self.accounts.setdefault(account, [])
        if access in held:
            return False
        held.append(access)
        held.sort()
        return True

    def revoke(self, account: str, access: str) -> bool:
        """Removes `access` from `account`; False when it was not there."""
        held = self.accounts.get(account, [])
        if access not in held:
            return False
        held.remove(access)
        if not held:
            del self.accounts[account]
        return True


# --- The connector -----------------------------------------------------------------


class Connector:
    """Consumes the commands topic and answers this system's commands, one at a time."""

    def __init__(self, args, pb_lifecycle, pb_commands):
        self.args = args
        self.lc = pb_lifecycle
        self.state = StateFile(Path(args.state))
        # ce_type -> (message class, CommandType enum value)
        self.kinds = {
            "tenure.commands.v1.revoke": (pb_commands.RevocationCommand, self.lc.COMMAND_TYPE_REVOKE),
            "tenure.commands.v1.grant": (pb_commands.GrantCommand, self.lc.COMMAND_TYPE_GRANT),
            "tenure.commands.v1.suspend": (pb_commands.SuspensionCommand, self.lc.COMMAND_TYPE_SUSPEND),
            "tenure.commands.v1.restore": (pb_commands.SuspensionCommand, self.lc.COMMAND_TYPE_RESTORE),
            "tenure.commands.v1.rotate": (pb_commands.RotationCommand, self.lc.COMMAND_TYPE_ROTATE),
        }
        self.pb_outcome = pb_commands.CommandOutcome
        common = {"bootstrap.servers": args.bootstrap}
        self.consumer = Consumer({
            **common,
            "group.id": args.group,
            "enable.auto.commit": False,       # committed by hand, after the outcome
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 25,           # tansu polls its storage for the wait
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        })
        self.producer = Producer({
            **common,
            "acks": "all",
            "linger.ms": 0,
            # Tenure's own producers do not use idempotence against tansu (its sqlite
            # storage fails on a producer epoch bump); one request in flight keeps order.
            "enable.idempotence": False,
            "max.in.flight.requests.per.connection": 1,
        })

    # Execution ---------------------------------------------------------------------

    def execute(self, command, command_type) -> tuple[int, str]:
        """Carries out one command against the state file: (CommandStatus, detail)."""
        lc = self.lc
        # The account to act on. Empty only when the source said nothing about the
        # identity: the contract says never to guess one.
        account = command.holder.name
        if not account:
            return lc.COMMAND_STATUS_FAILED_PERMANENT, "the command names no account (holder.name)"
        if command_type == lc.COMMAND_TYPE_ROTATE:
            system = command.system
        else:
            system = command.entitlement.system
        if system != self.args.system:
            # The header said ours, the body says otherwise: a person must look.
            return lc.COMMAND_STATUS_FAILED_PERMANENT, (
                f"command is for system {system!r}, this connector serves {self.args.system!r}")
        if command_type == lc.COMMAND_TYPE_ROTATE:
            return lc.COMMAND_STATUS_DONE, f"credential of {account} rotated"
        access = f"{command.entitlement.resource}:{command.entitlement.permission}"
        if command_type == lc.COMMAND_TYPE_REVOKE:
            changed = self.state.revoke(account, access)
        elif command_type == lc.COMMAND_TYPE_GRANT:
            changed = self.state.grant(account, access)
        else:  # suspend / restore: the example target has no notion of disabled access
            return lc.COMMAND_STATUS_DONE, f"{access} of {account} suspended/restored"
        if changed:
            return lc.COMMAND_STATUS_DONE, f"{access} of {account} changed"
        # ALREADY_ABSENT is Tenure's "nothing to do": the end state already held.
        return lc.COMMAND_STATUS_ALREADY_ABSENT, f"{access} of {account} already as asked"

    # One message ---------------------------------------------------------------------

    def handle(self, msg) -> bool:
        """Answers one consumed message; True when it was a command of our system."""
        headers = {k: (v or b"").decode("utf-8", "replace") for k, v in (msg.headers() or [])}
        if headers.get("tenure_target_system") != self.args.system:
            return False  # another system's command: skipped (its offset is committed)
        ce_type = headers.get("ce_type", "")
        if ce_type not in self.kinds:
            # Nothing readable to acknowledge: Tenure republishes, then escalates.
            log(f"offset {msg.offset()}: unknown ce_type {ce_type!r}; skipped")
            return False
        cls, command_type = self.kinds[ce_type]
        try:
            command = cls.FromString(msg.value() or b"")
        except DecodeError as e:
            log(f"offset {msg.offset()}: not a readable {cls.__name__} ({e}); skipped")
            return False

        record = self.state.processed.get(command.command_id)
        if record is None:
            status, detail = self.execute(command, command_type)
            # `attempt` is the delivery that executed it: a re-acknowledgement repeats
            # it, so Tenure records the outcome once however often it is resent.
            record = {"status": self.lc.CommandStatus.Name(status), "deliveries": 0,
                      "attempt": 1, "completed_time": now_rfc3339(), "detail": detail}
            self.state.processed[command.command_id] = record
            verb = "executed"
        else:
            verb = "redelivered, not executed again"
        record["deliveries"] += 1
        # Saved before acknowledging: a crash from here on leads to a redelivery that
        # finds the command processed and re-acknowledges it.
        self.state.save()
        log(f"{ce_type} {command.command_id} ({verb}): {record['status']}, "
            f"attempt {record['deliveries']}")
        self.acknowledge(command, command_type, record)
        return True

    def acknowledge(self, command, command_type, record) -> None:
        """Publishes the command's outcome and waits until the broker has it."""
        outcome = self.pb_outcome(
            command_id=command.command_id,
            status=self.lc.CommandStatus.Value(record["status"]),
            detail=record["detail"],
            # A rotation has no grant: RotationCommand has no grant_id field.
            grant_id="" if command_type == self.lc.COMMAND_TYPE_ROTATE else command.grant_id,
            identity_id=command.identity_id,
            command_type=command_type,
            connector=self.args.connector,
            attempt=record.get("attempt", 1),
            system=self.args.system,
        )
        outcome.completed_time.FromJsonString(record["completed_time"])
        headers = [
            ("ce_specversion", "1.0"),
            ("ce_type", "tenure.outcomes.v1.outcome"),
            ("ce_id", str(uuid.uuid4())),
            ("ce_source", f"connector:{self.args.connector}"),
            ("ce_time", now_rfc3339()),
            ("ce_subject", command.identity_id),
            ("content-type", "application/protobuf"),
        ]
        # Keep trying while the broker is away: a lost acknowledgement would leave
        # the command to Tenure's retries and, in the end, to a person.
        wait = 0.1
        while True:
            errors = []
            self.producer.produce(
                self.args.outcomes_topic, key=command.identity_id,
                value=outcome.SerializeToString(), headers=headers,
                on_delivery=lambda err, _msg: errors.append(err))
            self.producer.flush(30)
            if errors and errors[0] is None:
                return
            log(f"outcome of {command.command_id} not delivered ({errors or 'timeout'}); retrying")
            time.sleep(wait)
            wait = min(wait * 2, 5)

    # The loop ------------------------------------------------------------------------

    def run(self) -> int:
        self.consumer.subscribe([self.args.topic])
        handled = 0
        last_seen = time.monotonic()
        log(f"connector {self.args.connector!r} for system {self.args.system!r} "
            f"reading {self.args.topic} as group {self.args.group!r}")
        try:
            while self.args.exit_after is None or handled < self.args.exit_after:
                msg = self.consumer.poll(0.5)
                if msg is None:
                    if self.args.timeout and time.monotonic() - last_seen > self.args.timeout:
                        log(f"nothing received for {self.args.timeout}s; giving up")
                        return 1
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(msg.error())
                last_seen = time.monotonic()
                if self.handle(msg):
                    handled += 1
                # Reached only once the outcome (if any) is on the broker.
                self.consumer.commit(message=msg, asynchronous=False)
            log(f"handled {handled} command(s); exiting")
            return 0
        finally:
            self.consumer.close()


# --- Helpers -----------------------------------------------------------------------


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log(text: str) -> None:
    print(f"[connector] {text}", file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka bootstrap servers")
    p.add_argument("--system", required=True, help="the target system this connector serves")
    p.add_argument("--group", help="consumer group (default python-connector-<system>)")
    p.add_argument("--state", required=True, help="JSON state file (target accounts + ledger)")
    p.add_argument("--connector", default="python-example", help="name reported in outcomes")
    p.add_argument("--topic", default=COMMANDS_TOPIC,
                   help=f"commands topic (default {COMMANDS_TOPIC}; or {COMMANDS_TOPIC}.<system>)")
    p.add_argument("--outcomes-topic", default=OUTCOMES_TOPIC, help=f"default {OUTCOMES_TOPIC}")
    p.add_argument("--exit-after", type=int, metavar="N",
                   help="exit 0 once N commands of this system were handled")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="exit 1 when no message arrives for this long")
    args = p.parse_args(argv)
    args.group = args.group or f"python-connector-{args.system}"
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tenure-proto-") as out:
        pb_lifecycle, pb_commands = generate_classes(Path(out))
    # The modules are loaded; the generated files are no longer needed.
    return Connector(args, pb_lifecycle, pb_commands).run()


if __name__ == "__main__":
    sys.exit(main())
