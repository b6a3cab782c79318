"""Our moto server: moto's own server, with the two behaviours the local runtime replaces.

Run as ``python -m scripts.local.moto_server --port 0``; it prints ``MOTO_PORT=<port>``
once it listens on 127.0.0.1, then serves until killed.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.events.models import Rule
from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def _send_dynamodb_items_disabled(*_args: Any, **_kwargs: Any) -> None:
    """Stand-in for ``LambdaBackend.send_dynamodb_items``.

    With an event source mapping on a table, moto calls it on every write to invoke the
    function itself (which needs Docker) and, when that returns truthy, *clears the
    shard's records*, so nobody could read the stream any more. Returning None keeps
    every record in the shard for the local runtime's poller, which reads the stream
    with the dynamodbstreams API like Lambda's own poller does.
    """
    return


def _without_lambda_targets(send_to_targets: Any) -> Any:
    """Wrap ``Rule.send_to_targets`` so moto skips the rule's Lambda targets.

    moto raises NotImplementedError for a Lambda target, which fails the whole
    PutEvents call. The local runtime delivers to Lambda targets itself (scripts.local.bus);
    moto keeps delivering to the other targets (SQS, logs, ...), the runtime's tap queue
    among them.
    """

    # moto's server is threaded: the lock keeps two PutEvents from swapping one rule's
    # targets at once (the second would restore the already-filtered list).
    lock = threading.Lock()

    def send(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        with lock:
            every_target = self.targets
            self.targets = [t for t in every_target if ":lambda:" not in t["Arn"]]
            try:
                send_to_targets(self, original_event, transform_input)
            finally:
                self.targets = every_target

    return send


def patch_moto() -> None:
    setattr(LambdaBackend, "send_dynamodb_items", _send_dynamodb_items_disabled)  # noqa: B010
    setattr(Rule, "send_to_targets", _without_lambda_targets(Rule.send_to_targets))  # noqa: B010


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)

    patch_moto()
    # One access-log line per AWS call drowns the functions' logs; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"MOTO_PORT={port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
