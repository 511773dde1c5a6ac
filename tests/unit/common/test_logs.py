"""Loggers built from a server's conf: where the lines go, in which
format and at which level, and that asking again adds no handler."""
import logging
import socket
import uuid

import pytest

from objproxy.common.logs import get_logger


@pytest.fixture
def route():
    """A logger route of its own per test; its handlers closed after."""
    name = 'test-%s' % uuid.uuid4().hex[:8]
    yield name
    logger = logging.getLogger('objproxy.' + name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_log_file_gets_formatted_lines(tmp_path, route):
    path = tmp_path / 'server.log'
    logger = get_logger({'log_file': str(path)}, 'proxy-server', route)
    logger.info('hello %s', 'world')
    logger.handlers[0].flush()
    line = path.read_text()
    assert line.endswith(' proxy-server INFO: hello world\n')


def test_log_name_in_conf_wins_over_the_default_name(tmp_path, route):
    path = tmp_path / 'server.log'
    logger = get_logger({'log_file': str(path), 'log_name': 'custom'},
                        'proxy-server', route)
    logger.warning('x')
    logger.handlers[0].flush()
    assert ' custom WARNING: x' in path.read_text()


def test_log_format_can_be_replaced(tmp_path, route):
    path = tmp_path / 'server.log'
    logger = get_logger({'log_file': str(path),
                         'log_format': '%(levelname)s|%(message)s'},
                        'n', route)
    logger.error('boom')
    logger.handlers[0].flush()
    assert path.read_text() == 'ERROR|boom\n'


def test_log_level_filters_lines(tmp_path, route):
    path = tmp_path / 'server.log'
    logger = get_logger({'log_file': str(path), 'log_level': 'warning'},
                        'n', route)
    logger.info('hidden')
    logger.warning('shown')
    logger.handlers[0].flush()
    assert 'hidden' not in path.read_text()
    assert 'shown' in path.read_text()


def test_unknown_log_level_falls_back_to_info(tmp_path, route):
    logger = get_logger({'log_file': str(tmp_path / 'l'),
                         'log_level': 'chatty'}, 'n', route)
    assert logger.level == logging.INFO


def test_log_to_stdout(capsys, route):
    logger = get_logger({'log_to_stdout': 'yes', 'log_address':
                         '/nonexistent/dev/log'}, 'n', route)
    logger.info('to stdout')
    captured = capsys.readouterr()
    assert 'n INFO: to stdout' in captured.out
    assert captured.err == ''


def test_stderr_when_there_is_no_syslog_socket(capsys, route):
    logger = get_logger({'log_address': '/nonexistent/dev/log'}, 'n', route)
    logger.info('to stderr')
    assert 'n INFO: to stderr' in capsys.readouterr().err


def test_syslog_socket_receives_the_line(tmp_path, route):
    address = str(tmp_path / 'log.sock')
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.settimeout(5)
    try:
        logger = get_logger({'log_address': address,
                             'log_facility': 'LOG_LOCAL3'}, 'n', route)
        logger.warning('via syslog')
        data = receiver.recv(4096)
    finally:
        receiver.close()
    # <priority> = facility local3 (19) * 8 + warning (4)
    assert data.startswith(b'<%d>' % (19 * 8 + 4))
    assert b'n WARNING: via syslog' in data


def test_asking_again_with_the_same_conf_adds_no_handler(tmp_path, route):
    conf = {'log_file': str(tmp_path / 'l')}
    first = get_logger(conf, 'n', route)
    second = get_logger(dict(conf), 'n', route)
    assert first is second and len(second.handlers) == 1


def test_a_changed_conf_replaces_the_handler(tmp_path, route):
    old, new = tmp_path / 'old.log', tmp_path / 'new.log'
    replaced = get_logger({'log_file': str(old)}, 'n', route).handlers[0]
    logger = get_logger({'log_file': str(new)}, 'n', route)
    assert len(logger.handlers) == 1
    assert replaced.stream is None      # its file is closed, not leaked
    logger.info('after')
    logger.handlers[0].flush()
    assert 'after' in new.read_text() and 'after' not in old.read_text()


def test_lines_do_not_propagate_to_the_root_logger(tmp_path, route, caplog):
    logger = get_logger({'log_file': str(tmp_path / 'l')}, 'n', route)
    with caplog.at_level(logging.INFO):
        logger.info('only in the file')
    assert 'only in the file' not in caplog.text
    assert logger.propagate is False
