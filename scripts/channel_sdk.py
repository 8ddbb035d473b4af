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
  {"op": "twilio-send", "accountSid", "authToken", "apiBase", "to", "from", "body"}  -> {"sid": ...}
  {"op": "slack-send", "botToken", "apiBase", "channel", "text"}                      -> {"ok": ...}
The *-send operations make the SDK's own API call (Client.messages.create,
WebClient.chat_postMessage) against apiBase, so a test can compare it with Herald's.
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
    elif op == "twilio-send":
        answer = {"sid": twilio_send(request)}
    elif op == "slack-send":
        from slack_sdk import WebClient

        client = WebClient(token=request["botToken"], base_url=request["apiBase"] + "/api/")
        response = client.chat_postMessage(channel=request["channel"], text=request["text"])
        answer = {"ok": response["ok"]}
    else:
        raise SystemExit(f"channel_sdk.py: unknown op {op!r}")
    json.dump(answer, sys.stdout)


def twilio_send(request: dict) -> str:
    """Sends a message with Twilio's SDK (Client.messages.create) to `apiBase` instead of
    https://api.twilio.com, so a test can compare its request with Herald's."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    api_base = request["apiBase"]

    class RedirectingClient(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            return super().request(method, url.replace("https://api.twilio.com", api_base, 1), *args, **kwargs)

    client = Client(request["accountSid"], request["authToken"], http_client=RedirectingClient())
    message = client.messages.create(to=request["to"], from_=request["from"], body=request["body"])
    return message.sid


class FixedClock:
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now)


if __name__ == "__main__":
    main()
