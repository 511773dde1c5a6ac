"""Client metadata headers for account and container requests."""
import pytest

from objproxy.proxy.controllers.meta import MetadataError, backend_meta


def test_remove_headers_clear_user_metadata_and_the_acl_headers():
    out = backend_meta({'X-Remove-Container-Meta-Color': 'x',
                        'X-Remove-Container-Read': 'x',
                        'X-Container-Meta-Size': 'big'}, 'container')
    assert out == {'x-container-meta-color': '',
                   'x-container-read': '',
                   'X-Container-Meta-Size': 'big'}


@pytest.mark.parametrize('server_type,header', [
    ('account', 'X-Remove-Account-Sysmeta-Quota-Bytes'),
    ('account', 'X-Remove-Account-Sysmeta-Core-Access-Control'),
    ('container', 'X-Remove-Container-Sysmeta-Versions-Location'),
    ('container', 'X-Remove-Container-Whatever'),
])
def test_a_client_cannot_remove_sysmeta_or_unknown_headers(server_type,
                                                           header):
    assert backend_meta({header: 'x'}, server_type) == {}


def test_a_bad_account_acl_is_refused():
    with pytest.raises(MetadataError):
        backend_meta({'X-Account-Access-Control': '{"owner": []}'},
                     'account')
