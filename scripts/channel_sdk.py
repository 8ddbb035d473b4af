#!/usr/bin/env python3
"""Signs channel requests with the channels' own Python SDKs, for the channel tests.

The Swift tests (Tests/HeraldChannelsTests) send Herald requests signed the way Twilio and
Slack sign them; the signatures come from the vendors' SDKs, not from Herald's code:
  twilio:  twilio.request_validator.RequestValidator
  slack:   slack_sdk.signature.SignatureVerifier
One JSON request on stdin, one JSON answer on stdout:
  {"op": "twilio-sign", "authToken": T, "url": U, "params": {name: value}}      -> {"signature": S, "body": form}
  {"op": "twilio-validate", "authToken": T, "url": U, "params": {...}, "signature": S} -> {"valid": bool}
  {"op": "slack-sign", "signingSecret": S, "timestamp": "1700000000", "body": B}  -> {"signature": "v0=..."}
  {"op": "slack-verify", "signingSecret": S, "timestamp": T, "body": B, "signature": S} -> {"valid": bool}
scripts/setup.sh --test installs the packages (twilio, slack_sdk).
"""
import json
import sys
from urllib.parse import urlencode


def main() -> None:
    request = json.load(sys.stdin)
    op = request["op"]
    if op in ("twilio-sign", "twilio-validate"):
        from twilio.request_validator import RequestValidator

        validator = RequestValidator(request["authToken"])
        if op == "twilio-sign":
            # The body as Twilio posts it, and the signature its SDK computes for it.
            answer = {
                "signature": validator.compute_signature(request["url"], request["params"]),
                "body": urlencode(request["params"]),
            }
        else:
            answer = {"valid": validator.validate(request["url"], request["params"], request["signature"])}
    elif op in ("slack-sign", "slack-verify"):
        from slack_sdk.signature import SignatureVerifier

        timestamp = request["timestamp"]
        # The verifier's clock is the request's own time, so old timestamps can be signed too.
        verifier = SignatureVerifier(request["signingSecret"], clock=FixedClock(int(timestamp)))
        if op == "slack-sign":
            answer = {"signature": verifier.generate_signature(timestamp=timestamp, body=request["body"])}
        else:
            answer = {"valid": verifier.is_valid(body=request["body"], timestamp=timestamp, signature=request["signature"])}
    else:
        raise SystemExit(f"channel_sdk.py: unknown op {op!r}")
    json.dump(answer, sys.stdout)


class FixedClock:
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now)


if __name__ == "__main__":
    main()
