"""A response body in pieces that counts its close() on the app that
made it: filters must close every body they read or drop."""


class ClosingBody(object):
    def __init__(self, app, pieces):
        self.app = app
        self.pieces = pieces

    def __iter__(self):
        return iter(self.pieces)

    def close(self):
        self.app.closed += 1
