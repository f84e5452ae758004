import logging
import re

import pytest


@pytest.mark.django_db
def test_it_logs_one_line_per_request_with_ip_method_path_status_user_duration(
    client, alice, caplog
):
    client.force_login(alice)
    with caplog.at_level(logging.INFO, logger="beamtime.request"):
        client.get("/accounts/keys/?sort=name", REMOTE_ADDR="192.0.2.7")
        client.get("/nothing-here/", REMOTE_ADDR="192.0.2.7")
    lines = [r.getMessage() for r in caplog.records if r.name == "beamtime.request"]
    assert len(lines) == 2
    assert re.fullmatch(
        r"192\.0\.2\.7 GET /accounts/keys/\?sort=name 200 alice \d+\.\dms", lines[0]
    )
    assert re.fullmatch(r"192\.0\.2\.7 GET /nothing-here/ 404 alice \d+\.\dms", lines[1])


@pytest.mark.django_db
def test_anonymous_requests_log_a_dash(client, caplog):
    with caplog.at_level(logging.INFO, logger="beamtime.request"):
        client.get("/")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "beamtime.request"]
    assert " GET / 302 - " in line
