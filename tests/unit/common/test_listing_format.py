"""The one listing-format negotiation, shared by listing_formats and the
account and container servers."""
import pytest

from objproxy.common.listing_format import NegotiationError, listing_type


@pytest.mark.parametrize('fmt,accept,want', [
    ('json', None, 'application/json'),
    ('XML', 'application/json', 'application/xml'),
    ('bogus', None, 'text/plain'),
    (None, None, 'text/plain'),
    (None, '', 'text/plain'),
    (None, '*/*', 'text/plain'),
    (None, 'application/*', 'application/json'),
    (None, 'text/xml', 'text/xml'),
    (None, 'application/xml;q=0.5, application/json;q=0.9',
     'application/json'),
    # equal quality: a specific range beats a wildcard ...
    (None, '*/*, application/xml', 'application/xml'),
    # ... and among specific ones the header's order decides
    (None, 'application/xml, application/json', 'application/xml'),
    (None, 'text/plain;q=0, application/json;q=0.1', 'application/json'),
])
def test_negotiated_type(fmt, accept, want):
    assert listing_type(fmt, accept) == want


@pytest.mark.parametrize('accept,status', [
    ('image/png', 406), ('text/plain;q=0', 406), ('garbage', 400)])
def test_negotiation_errors(accept, status):
    with pytest.raises(NegotiationError) as err:
        listing_type(None, accept)
    assert err.value.status == status
