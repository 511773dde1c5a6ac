"""The HTTP request-line parsing every objproxy server uses.

Why not the standard library's: ``http.server`` decodes the request line
as Latin-1 and splits it on *any* whitespace, so a UTF-8 object name whose
bytes include 0x85 or 0xA0 (NEL, NBSP in Latin-1) is torn apart and
answered "400 Bad request syntax"; and it folds a leading ``//`` into
``/``, so ``//v1/AUTH_test`` would be served as the account.  Swift's
paths need neither.  Here the request target's raw bytes that could be
mistaken for whitespace are percent-encoded before parsing (WSGI decodes
them back to the same ``PATH_INFO``), and the target is kept as sent.
"""
import re

import eventlet.wsgi

# bytes str.split() may treat as whitespace once decoded as Latin-1,
# plus the other controls and everything non-ASCII
UNSAFE_IN_TARGET = re.compile(rb'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]')


def encode_target(target):
    return UNSAFE_IN_TARGET.sub(lambda m: b'%%%02X' % m.group()[0], target)


class HttpProtocol(eventlet.wsgi.HttpProtocol):
    """eventlet's protocol with Swift's request-line rules."""

    def parse_request(self):
        parts = self.raw_requestline.rstrip(b'\r\n').split(b' ')
        target = None
        if len(parts) == 3:
            target = encode_target(parts[1])
            self.raw_requestline = b' '.join(
                (parts[0], target, parts[2])) + b'\r\n'
        if not super().parse_request():
            return False
        if target is not None:
            self.path = target.decode('latin-1')    # no "//" folding
        return True
