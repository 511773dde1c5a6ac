"""A clamd stand-in on a unix socket, for faults a real clamd will not
produce on demand (a clamd that answers VERSION but hangs on scans, one
that accepts connections and never answers anything).

Each connection is served by a plain thread: it reads the ``z`` command
and then

* ``PING`` -> ``PONG``, ``VERSION`` -> ``version`` (unless ``hang_all``);
* ``INSTREAM`` -> reads the frames up to the terminator, then per
  ``instream``: ``'ok'`` answers ``stream: OK``, ``'hang'`` never answers,
  ``'close'`` hangs up without a word.

``hang_all`` makes every command read its input and never answer, like a
SIGSTOPped clamd whose listen backlog still accepts connections.
``commands`` records what arrived (``INSTREAM-END`` once a terminator was
read).  ``close()`` releases the hung connections and stops serving.
"""
import socket
import struct
import threading

VERSION = 'ClamAV 1.0.0/27000/Thu Jan  1 00:00:00 2025'


class FakeClamd(object):
    def __init__(self, path, instream='ok', hang_all=False, version=VERSION):
        self.path = path
        self.instream = instream
        self.hang_all = hang_all
        self.version = version
        self.commands = []
        self.connections = 0
        self._end = {}
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(64)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def socket_path(self):
        return self.path

    def _record(self, what):
        with self._lock:
            self.commands.append(what)

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,),
                             daemon=True).start()

    def _handle(self, conn):
        try:
            name = self._read_command(conn)
            if name is None:
                return
            self._record(name)
            if name == 'INSTREAM':
                while True:
                    head = _recv_exact(conn, 4)
                    if head is None:
                        return
                    size = struct.unpack('!L', head)[0]
                    if size == 0:
                        break
                    if _recv_exact(conn, size) is None:
                        return
                self._record('INSTREAM-END')
                if self.hang_all or self.instream == 'hang':
                    self._release.wait(30)
                elif self.instream == 'ok':
                    conn.sendall(b'stream: OK' + self._end[conn])
                return
            if self.hang_all:
                self._release.wait(30)
            elif name == 'PING':
                conn.sendall(b'PONG' + self._end[conn])
            elif name == 'VERSION':
                conn.sendall(self.version.encode() + self._end[conn])
        except OSError:
            pass
        finally:
            self._end.pop(conn, None)
            conn.close()

    def _read_command(self, conn):
        """The command name; ``z`` (NUL-ended) or ``n`` (newline-ended)
        commands, as clamd takes both.  Sets the reply terminator."""
        first = conn.recv(1)
        if not first:
            return None
        end = b'\n' if first == b'n' else b'\x00'
        data = b''
        while not data.endswith(end):
            part = conn.recv(1)
            if not part:
                return None
            data += part
        self._end[conn] = end
        return data[:-1].decode()

    def close(self):
        self._release.set()
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self.server.close()


def _recv_exact(conn, count):
    data = b''
    while len(data) < count:
        part = conn.recv(count - len(data))
        if not part:
            return None
        data += part
    return data
