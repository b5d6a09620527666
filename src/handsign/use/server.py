"""`handsign serve`: a model over HTTP, safe with any input. It answers MLflow's scoring protocol
(POST /invocations with `dataframe_split` or `dataframe_records` of base64-encoded image files in an
`image` column; GET /ping) through the same recogniser as `handsign predict` and the registered
MLflow model, and unlike MLflow's scoring server:

- every refusal is a 4xx with a short JSON reason (`{"error": ...}`): no stack trace, no echo of the body;
- a request over `max_request_bytes` is refused (413) before it is read;
- a row that cannot be answered (not base64, not an image, too many pixels) gets `{"error": ...}` in
  its place and the other rows are answered; only a request with no answerable row is a 400;
- images are decoded and classified in batches bounded by decoded pixels, so a few MB of request
  cannot take the server's memory.

`mlflow models serve -m models:/...` keeps working as before; this is the front door to put on a network.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from handsign.core.imagefile import UnreadableImage, read_image
from handsign.recognition.batches import BATCH_PIXELS, MAX_PIXELS, probabilities_in_batches
from handsign.recognition.loading import Recogniser

MAX_REQUEST_BYTES = 16 * 1024 * 1024  # a request's body; base64 makes a 12 MB image 16 MB
MAX_ROWS = 1000


class Refused(ValueError):
    """A request that gets no answer, with its HTTP status."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def rows_of(body: bytes) -> list[Any]:
    """The `image` column of an MLflow scoring request (dataframe_split or dataframe_records)."""
    try:
        request = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f"{type(e).__name__} at character {getattr(e, 'pos', 0)}"
        raise Refused(HTTPStatus.BAD_REQUEST, f"the body is not JSON ({where})") from None
    if isinstance(request, dict) and isinstance(split := request.get("dataframe_split"), dict):
        columns, data = split.get("columns"), split.get("data")
        if not isinstance(columns, list) or "image" not in columns or not isinstance(data, list):
            raise Refused(HTTPStatus.BAD_REQUEST, "dataframe_split needs columns with `image` and data (a list of rows)")
        at = columns.index("image")
        return [row[at] if isinstance(row, list) and len(row) > at else None for row in data]
    if isinstance(request, dict) and isinstance(records := request.get("dataframe_records"), list):
        return [r.get("image") if isinstance(r, dict) else None for r in records]
    raise Refused(HTTPStatus.BAD_REQUEST, 'expected {"dataframe_split": {"columns": ["image"], "data": [[<base64>], ...]}} '
                                          'or {"dataframe_records": [{"image": <base64>}, ...]}')  # fmt: skip


def decoded(text: Any, i: int) -> bytes:
    """Row `i`'s base64 text as the file's bytes; anything else is refused, naming the row."""
    if not isinstance(text, str):
        raise UnreadableImage(f"row {i}: `image` is not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise UnreadableImage(f"row {i}: `image` is not base64 text") from None


def answer(recogniser: Recogniser, rows: list[Any], max_pixels: int = MAX_PIXELS, batch_pixels: int = BATCH_PIXELS,
           max_rows: int | None = MAX_ROWS) -> list[dict]:  # fmt: skip
    """One answer per row: label, probability and every class's, or `{"error": why}` for a row that
    cannot be read (the others are answered). The served model (handsign.use.serving) answers so too."""
    if not rows:
        raise Refused(HTTPStatus.BAD_REQUEST, "no rows to answer")
    if max_rows is not None and len(rows) > max_rows:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"{len(rows)} rows, over the limit of {max_rows} per request")
    errors: dict[int, str] = {}
    good: list[int] = []

    def images() -> Iterator[np.ndarray]:
        for i, text in enumerate(rows):
            try:
                image = read_image(decoded(text, i), f"row {i}", max_pixels=max_pixels)
            except UnreadableImage as e:
                errors[i] = str(e)
                continue
            good.append(i)
            yield image

    probabilities = probabilities_in_batches(recogniser, images(), batch_pixels)
    if not good:
        raise Refused(HTTPStatus.BAD_REQUEST, "no row could be read: " + "; ".join(list(errors.values())[:3]))
    answered = dict(zip(good, recogniser.table(probabilities).to_dict("records"), strict=True))  # predict's table
    return [answered[i] if i in answered else {"error": errors[i]} for i in range(len(rows))]


def make_server(recogniser: Recogniser, host: str = "127.0.0.1", port: int = 8080, max_request_bytes: int = MAX_REQUEST_BYTES,
                max_pixels: int = MAX_PIXELS) -> ThreadingHTTPServer:  # fmt: skip
    """The server (`serve_forever()` runs it); port 0 picks a free one (`server.server_address`)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "handsign"

        def _send(self, status: HTTPStatus, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (the handler's protocol)
            if self.path in ("/ping", "/health"):
                self._send(HTTPStatus.OK, {"status": "ok", "classes": list(recogniser.preprocessing.class_names)})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no {self.path[:100]}: GET /ping, POST /invocations"})

        def do_POST(self) -> None:  # noqa: N802
            try:
                if self.path != "/invocations":
                    raise Refused(HTTPStatus.NOT_FOUND, f"no {self.path[:100]}: POST /invocations")
                try:
                    size = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    raise Refused(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is needed") from None
                if size > max_request_bytes:
                    self.close_connection = True  # the body is never read
                    limit = f"over the limit of {max_request_bytes:,} (--max-request-bytes)"
                    raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a body of {size:,} bytes is {limit}")
                rows = rows_of(self.rfile.read(size))
                self._send(HTTPStatus.OK, {"predictions": answer(recogniser, rows, max_pixels)})
            except Refused as e:
                self._send(e.status, {"error": str(e)})
            except Exception as e:  # a bug of ours: said in a line, never a trace or the body
                self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"the model failed on this request ({type(e).__name__})"})

        def log_message(self, format: str, *args: Any) -> None:  # one line per request, no body
            print(f"handsign serve: {self.address_string()} {format % args}")

    return ThreadingHTTPServer((host, port), Handler)
