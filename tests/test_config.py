"""Target configuration: precedence, validation and secrecy."""

import json

import pytest

from conformance.deployment.config import EMBEDDED_WINDOW, OPTIONS, ConfigError, resolve

SID = "5f8e8f60-4771-44cb-92a6-94ea66df0450"
TOKEN = "tok-1cf2f4f4-64c4-4249-9a3e-5bb4cb597c2a"


def external(**extra):
    return {"base_url": "https://api.example.net/v1", "account_sid": SID, "token": TOKEN, **extra}


def test_no_base_url_means_the_embedded_reference_with_a_short_window_and_creation_allowed():
    cfg = resolve({}, environ={})
    assert cfg.embedded and cfg.allow_create
    assert cfg.window == EMBEDDED_WINDOW


def test_command_line_beats_environment_which_beats_profile(tmp_path):
    profile = tmp_path / "staging.toml"
    profile.write_text('base-url = "https://profile.example/v1"\naccount-sid = "%s"\nwindow = 100\nmax-calls = 3\n' % SID)
    env = {"CALLS_API_WINDOW": "200", "CALLS_API_TOKEN": TOKEN, "CALLS_API_PROFILE": str(profile)}
    cfg = resolve({"window": "300"}, environ=env)
    assert cfg.base_url == "https://profile.example/v1"
    assert cfg.window == 300.0
    assert cfg.max_calls == 3
    cfg = resolve({}, environ=env)
    assert cfg.window == 200.0


def test_profile_named_without_path_is_read_from_fixtures_targets():
    cfg = resolve({"profile": "example", "token": TOKEN}, environ={})
    assert cfg.base_url.endswith("/v1")
    assert not cfg.allow_create


def test_token_is_read_from_a_file_and_never_shown_in_repr(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    cfg = resolve({"base_url": "https://api.example.net/v1", "account_sid": SID, "token_file": str(token_file)}, environ={})
    assert cfg.token == TOKEN
    assert TOKEN not in repr(cfg)
    assert TOKEN not in json.dumps(cfg.public_summary())


@pytest.mark.parametrize("values, message", [
    (external(base_url="ftp://x"), "expected an http:// or https:// URL"),
    ({"base_url": "https://api.example.net/v1", "account_sid": SID}, "needs --account-sid and a token"),
    (external(account_sid="not-a-uuid"), "is not a UUID"),
    (external(allow_create=True), "--allow-create needs --from-number and --to-number"),
    (external(other_account_sid=SID), "needs both --other-account-sid and its token"),
    (external(window="soon"), "--window: invalid value"),
    (external(window="-1"), "--window must be greater than 0"),
    (external(token=None, token_file="/nonexistent/token"), "cannot read the token file"),
    ({"profile": "no-such-profile"}, "profile not found"),
])
def test_bad_configuration_is_one_clear_line(values, message):
    with pytest.raises(ConfigError) as error:
        resolve(values, environ={})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_create_payload_dials_only_the_configured_number_and_carries_the_run_tag(tmp_path):
    template = tmp_path / "payload.json"
    template.write_text(json.dumps({"call_hook": "https://hooks.example/call", "to": {"type": "sip"}, "tag": {"team": "qa"}}))
    cfg = resolve(external(allow_create=True, from_number="+15550001", to_number="+15550002",
                           payload_template=str(template)), environ={})
    body = cfg.create_payload()
    assert body["to"] == {"type": "phone", "number": "+15550002"}
    assert body["from"] == "+15550001"
    assert body["call_hook"] == "https://hooks.example/call"
    assert body["tag"] == {"team": "qa", "conformance_run": cfg.run_id}


def test_every_option_has_an_environment_variable_and_help():
    for option in OPTIONS:
        assert option.env.startswith("CALLS_API_")
        assert option.help


OTHER = "1307929f-7ee4-4fa5-aab8-3548b1353ca0"
APP, OTHER_APP = "0d27aee6-d1e6-4707-bdde-1cc20b50ca88", "5c7f2e0a-93b4-4c1e-8d2a-7e61f0b9a3d4"


def test_the_second_account_creates_with_its_own_application_and_payload_template(tmp_path):
    template = tmp_path / "other.json"
    template.write_text(json.dumps({"call_hook": "https://hooks.example/other"}))
    cfg = resolve(external(other_account_sid=OTHER, other_token="t2", application_sid=APP, allow_create=True,
                           from_number="+15005550006", to_number="+15005550001"),
                  environ={"CALLS_API_OTHER_APPLICATION_SID": OTHER_APP,
                           "CALLS_API_OTHER_PAYLOAD_TEMPLATE": str(template)})
    assert cfg.create_payload()["application_sid"] == APP and "call_hook" not in cfg.create_payload()
    other = cfg.create_payload(other_account=True)
    assert other["application_sid"] == OTHER_APP and other["call_hook"] == "https://hooks.example/other"
    assert other["to"] == {"type": "phone", "number": "+15005550001"}


def test_the_other_application_sid_must_be_a_uuid():
    with pytest.raises(ConfigError, match="other-application-sid"):
        resolve(external(other_application_sid="app-1"), environ={})


def test_ways_to_give_name_every_option_variable_and_profile_key():
    from conformance.deployment.config import ways_to_give
    text = ways_to_give("other-account-sid", ("other-token", "other-token-file"))
    assert text == ("pass --other-account-sid and --other-token or --other-token-file (env CALLS_API_OTHER_ACCOUNT_SID "
                    "and CALLS_API_OTHER_TOKEN or CALLS_API_OTHER_TOKEN_FILE; profile keys other-account-sid and "
                    "other-token or other-token-file)")
    assert ways_to_give("other-application-sid") == ("pass --other-application-sid (env "
                                                     "CALLS_API_OTHER_APPLICATION_SID; profile key other-application-sid)")
