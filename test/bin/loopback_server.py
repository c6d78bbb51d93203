"""The accept loop of the test's own loopback servers (mta-sink.py,
mta-tap.py): listens on a free port of 127.0.0.1, writes it to DIR/port
(whole, by rename, so a reader never sees half of it), and hands each
connection and its number to handle() in a thread of its own, for
lifetime seconds at the most."""
import os, socket, threading, time


def serve(directory, lifetime, handle):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.5)
    port = os.path.join(directory, "port")
    with open(port + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(port + ".tmp", port)
    end = time.time() + lifetime
    number = 0
    while time.time() < end:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        number += 1
        threading.Thread(target=handle, args=(conn, number),
                         daemon=True).start()
