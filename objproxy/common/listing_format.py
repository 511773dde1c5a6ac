"""Which format a listing is answered in: the one negotiation function.

Used by the ``listing_formats`` filter (what the client gets) and by the
account and container servers (what a caller talking to a node directly
gets), so both agree on every Accept header, as Swift's single
``get_listing_content_type`` does:

* ``format=json|xml|plain`` wins (any other value means plain);
* else the ``Accept`` header, parsed by ``webob.acceptparse``: media
  ranges by quality, specific ranges before wildcards at equal quality,
  then in the header's order; each takes the first of ``OFFERS`` it
  matches; no header (or an empty one) means ``text/plain``;
* nothing acceptable is a 406, a malformed header a 400
  (``NegotiationError`` carries the status and a message).
"""
from webob.acceptparse import AcceptValidHeader, create_accept_header

FORMAT_TYPES = {'plain': 'text/plain', 'json': 'application/json',
                'xml': 'application/xml'}
# What a listing can be answered in, in Swift's order of preference.
OFFERS = ('text/plain', 'application/json', 'application/xml', 'text/xml')


class NegotiationError(ValueError):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def listing_type(fmt, accept):
    """The content type (no charset) for a ``format`` parameter value and
    an ``Accept`` header value (either may be None)."""
    if fmt:
        return FORMAT_TYPES.get(fmt.strip().lower(), FORMAT_TYPES['plain'])
    if accept is None:
        return OFFERS[0]
    header = create_accept_header(accept)
    if not isinstance(header, AcceptValidHeader):
        raise NegotiationError(400, 'Invalid Accept header')
    ranges = [(q, '*' not in media_range, media_range.lower())
              for media_range, q, _params, _ext in header.parsed if q > 0]
    if not ranges and not list(header.parsed):
        return OFFERS[0]
    ranges.sort(key=lambda r: (r[0], r[1]), reverse=True)
    for _q, _specific, media_range in ranges:
        for offer in OFFERS:
            if media_matches(media_range, offer):
                return offer
    raise NegotiationError(406, 'None of the requested formats is offered')


def media_matches(media_range, offer):
    want_type, _sep, want_sub = media_range.partition('/')
    offer_type, _sep, offer_sub = offer.partition('/')
    return want_type in ('*', offer_type) and want_sub in ('*', offer_sub)
