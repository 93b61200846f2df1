"""moto's S3 server, serving one request at a time.

`python3 tests/servers/moto_serial.py PORT` listens on 127.0.0.1:PORT. moto checks
`If-None-Match: *` and then stores the object as two steps of a threaded server: two
conditional creates of one key at the same moment can both pass the check, both answer 200,
and the second overwrites the first. S3 makes that check and the write one step, and obsq's
commit log relies on it (DESIGN §8). Serializing moto's requests gives the tests that S3
behaviour; connections are still accepted on threads.
"""

import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serial(environ, start_response):
        # The whole response is made under the lock: a streamed body would leave it early.
        with lock:
            return list(app(environ, start_response))

    run_simple(
        "127.0.0.1",
        port,
        serial,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
