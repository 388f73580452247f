"""A test double of NCALayer, the national CA's desktop signer: it answers the page's WebSocket at
wss://127.0.0.1:13579 (routed by Playwright inside the browser, no port opened) with NCALayer's documented
protocol — module ``kz.gov.pki.knca.basics``, method ``sign``, a CMS SignedData in ``body.result`` — and
signs with the key it was given, as NCALayer does once the person has chosen their key and typed its
password."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Page, WebSocketRoute

from services.signature.ca import Issued
from shared.wire import cms
from shared.wire.clock import Clock

ADDRESS = re.compile(r"^wss://127\.0\.0\.1:13579/?$")


@dataclass
class NcaLayerDouble:
    key: Issued
    clock: Clock
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancel_next: bool = False

    async def install(self, page: Page) -> None:
        await page.route_web_socket(ADDRESS, self._connected)

    def _connected(self, socket: WebSocketRoute) -> None:
        socket.on_message(lambda message: self._answer(socket, message))

    def _answer(self, socket: WebSocketRoute, message: str | bytes) -> None:
        request = json.loads(message)
        self.requests.append(request)
        if request.get("module") != "kz.gov.pki.knca.basics" or request.get("method") != "sign":
            socket.send(json.dumps({"status": False, "code": "500", "message": "unknown module or method"}))
            return
        if self.cancel_next:  # the person closed NCALayer's dialog
            self.cancel_next = False
            socket.send(json.dumps({"status": True, "body": {}}))
            return
        args = request["args"]
        content = base64.b64decode(args["data"])
        detached = not args.get("signingParams", {}).get("encapsulate", False)
        signature = cms.sign(content, self.key.key, self.key.chain, signing_time=self.clock.now(), detached=detached)
        socket.send(json.dumps({"status": True, "body": {"result": [signature]}}))
