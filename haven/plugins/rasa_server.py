"""`python -m haven.plugins.rasa_server run …` is `python -m rasa run …` with one speed fix for Rasa 3.6.

Rasa checks every action server response against its JSON schema with `jsonschema.validate()`,
which first validates the (constant) schema itself against the Draft 2020-12 meta-schema on every
call. That meta-schema check took 40–90 ms of CPU per custom-action call here, more than the NLU
pipeline, the policies and the action server together (docs/benchmarks.md, "Where a turn's time
goes"). The fix compiles the schema once and validates each response against it exactly as before:
the same schema, the same validator class, the same best-match error with Rasa's own message.

It also keeps the Rasa HTTP API's token off the command line (issue 12.3: `ps` shows every process's
arguments to every local user): `run` gets `--enable-api --auth-token …` added inside this process
from HAVEN_RASA_API_TOKEN (the launcher's per-launch token, or RASA_AUTH_TOKEN), so the token is in
the environment, readable only by Haven's user, and never in /proc/<pid>/cmdline. Without a token
the API stays off.

Started by the launcher, it also keeps the start quiet (haven/plugins/quiet.py): third-party deprecation
warnings off, including after Rasa's own warning set-up (`rasa.utils.common._filter_warnings`,
wrapped; Rasa 3.6.21).

The launcher runs the Rasa server through this module. Anything unexpected (another Rasa version
without this method, a jsonschema without these functions) leaves Rasa unpatched with a warning:
a speed fix must never stop the server.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Dict, List, Optional, Text

logger = logging.getLogger(__name__)

_installed = False


def install_action_response_validator() -> bool:
    """Makes RemoteAction validate responses against a schema compiled once. Idempotent; True when
    the fix is in place."""
    global _installed
    if _installed:
        return True
    try:
        from jsonschema.exceptions import best_match
        from jsonschema.validators import validator_for
        from rasa.core.actions import action as rasa_action
    except ImportError as error:
        logger.warning("Rasa's action response check left as it is: %s", error)
        return False
    remote = getattr(rasa_action, "RemoteAction", None)
    spec = getattr(remote, "action_response_format_spec", None)
    docs = getattr(rasa_action, "DOCS_BASE_URL", None)
    if remote is None or spec is None or docs is None or not hasattr(remote, "_validate_action_result"):
        logger.warning("Rasa's action response check left as it is: RemoteAction is not as expected")
        return False

    schema = spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)  # once, where jsonschema.validate() did it on every call
    # One validator for the process: responses are validated synchronously on the event loop (and
    # each Sanic worker is its own process), so no two validations ever interleave.
    validator = validator_class(schema)

    def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
        # The body of jsonschema.validate() after its schema check, then Rasa's own error message.
        error = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += (
                f". Failed to validate Action server response from API, "
                f"make sure your response from the Action endpoint is valid. "
                f"For more information about the format visit "
                f"{docs}/custom-actions"
            )
            raise error
        return True

    _validate_action_result.__doc__ = (
        "Rasa's response check with the schema compiled once (haven.plugins.rasa_server)."
    )
    remote._validate_action_result = _validate_action_result
    _installed = True
    return True


def api_arguments(argv: List[str], token: Optional[str]) -> List[str]:
    """argv with Rasa's HTTP API turned on behind `token` for `run` (unchanged without a token)."""
    if not token or len(argv) < 2 or argv[1] != "run":
        return list(argv)
    if any(a == "--auth-token" or a.startswith("--auth-token=") for a in argv):
        return list(argv)
    # One argument with "=": a token may start with "-" (token_urlsafe does, 1 launch in 64), which
    # argparse would otherwise read as an option and refuse ("expected one argument").
    return [*argv, "--enable-api", f"--auth-token={token}"]


def main() -> None:
    from haven.plugins import quiet

    if quiet.quiet_deprecation_warnings():  # before Rasa's imports, which print most of them
        quiet.keep_quiet_after_rasa()
    from rasa.__main__ import main as rasa_main

    from haven import settings

    loaded = settings.load()
    settings.fill_environment(loaded.rasa_environment())  # a Rasa command from `make` or a shell
    # Changes this interpreter's sys.argv only; the process's command line (ps) stays as launched.
    sys.argv = api_arguments(sys.argv, loaded.rasa_api_token)
    install_action_response_validator()
    rasa_main()


if __name__ == "__main__":
    main()
