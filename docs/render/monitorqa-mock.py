#!/usr/bin/env python3
"""A stand-in for the MonitorQA API, for the enriched docs pictures only.

    docs/render/monitorqa-mock.py PORT

Answers GET /audit/{id} on 127.0.0.1:PORT with the audit of examples/events/audit_completed.json
under that id, as the API describes an audit not yet carried out (no score, no report, no
signatures); every other path is a 404 in the API's error shape. Needs X-API-KEY: docs-only.
"""
import json
import pathlib
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "examples/events/audit_completed.json").read_text())["data"]
KEY = "docs-only"
NOT_YET = {
    "isStarted": False, "isCompleted": False, "isFailed": False, "startedAt": None,
    "startedBy": None, "completeDate": None, "completedBy": None, "score": None,
    "scoreLabel": None, "scoreColor": None, "completionTime": None,
}
DROPPED = ("auditId", "reportUrl", "auditorSignature", "auditeeSignature")


def audit(audit_id):
    body = {k: v for k, v in SAMPLE.items() if k not in DROPPED}
    return {**body, **NOT_YET, "id": audit_id}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if self.headers.get("X-API-KEY") != KEY:
            self.answer(401, error(401, "Invalid API key"))
        elif len(parts) == 2 and parts[0] == "audit":
            self.answer(200, audit(parts[1]))
        else:
            self.answer(404, error(404, "Entity not found"))

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def error(code, message):
    return {"error": {"message": message, "code": code, "details": None}}


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
