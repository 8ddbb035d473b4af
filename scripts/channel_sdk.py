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
  {"op": "twilio-send", "accountSid", "authToken", "apiBase", "to", "from", "body",
   "mediaUrl"?: [...], "statusCallback"?: U}                                        -> {"sid": ...}
  {"op": "twilio-build", same fields without apiBase}                               -> {"method", "url", "body"}
  {"op": "slack-send", "botToken", "apiBase", "channel", "text"}                      -> {"ok": ...}
  {"op": "slack-blocks", "blocks": [...]}                                             -> {"blocks": [...]}
The *-send operations make the SDK's own API call (Client.messages.create,
WebClient.chat_postMessage) against apiBase, so a test can compare it with Herald's;
twilio-build captures the request Client.messages.create would send, without sending it.
slack-blocks parses each block with slack_sdk's Block Kit models and gives back their
to_dict(), which validates them (text lengths, element counts, required fields): a block the
SDK does not understand, or would change, does not come back equal.
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
    elif op == "twilio-build":
        answer = twilio_build(request)
    elif op == "slack-blocks":
        from slack_sdk.models.blocks import Block

        answer = {"blocks": [Block.parse(block).to_dict() for block in request["blocks"]]}
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
    message = client.messages.create(**twilio_arguments(request))
    return message.sid


def twilio_arguments(request: dict) -> dict:
    arguments = {"to": request["to"], "from_": request["from"]}
    if request.get("body") is not None:
        arguments["body"] = request["body"]
    if request.get("mediaUrl"):
        arguments["media_url"] = request["mediaUrl"]
    if request.get("statusCallback"):
        arguments["status_callback"] = request["statusCallback"]
    return arguments


def twilio_build(request: dict) -> dict:
    """The request Client.messages.create makes, captured instead of sent: its URL and its
    form body as the SDK's HTTP client (requests) encodes it."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.http.response import Response
    from twilio.rest import Client

    captured = {}

    class CapturingClient(TwilioHttpClient):
        def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False):
            captured["method"] = method
            captured["url"] = url
            # requests encodes a dict of lists as repeated names, in order.
            captured["body"] = urlencode(list(data.items()), doseq=True)
            sid = "SM" + "0" * 32
            return Response(201, json.dumps({"sid": sid, "account_sid": request["accountSid"], "status": "queued"}))

    client = Client(request["accountSid"], request["authToken"], http_client=CapturingClient())
    client.messages.create(**twilio_arguments(request))
    return captured


class FixedClock:
    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> float:
        return float(self._now)


if __name__ == "__main__":
    main()
