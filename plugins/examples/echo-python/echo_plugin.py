"""openledger.examples.v1.EchoService as an OpenLedger plugin, written from docs/plugin-protocol.md
only: handshake environment and line, grpc.health.v1, server reflection, identity verification
(HMAC-SHA256 over caller, auth method, method path and timestamp), JSON logs on stderr, graceful
shutdown on SIGTERM."""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402
from openledger.examples.v1 import echo_pb2, echo_pb2_grpc  # noqa: E402

COOKIE_KEY = "OL_PLUGIN_MAGIC_COOKIE"
COOKIE_VALUE = "5b3d1c0e-openledger-plugin"
SUPPORTED_PROTOCOLS = [1]
SERVICE = "openledger.examples.v1.EchoService"
MAX_SKEW_MS = 5 * 60 * 1000
AUTH_METHODS = ("apikey", "siwe", "kernel", "none")
ADDRESS = re.compile(r"^0x[0-9a-f]{40}$")
LEVELS = {"debug": 20, "info": 30, "warn": 40, "error": 50}
NAME = os.environ.get("OL_PLUGIN_NAME", "echo-python")


def log(level, msg, **fields):
    """One pino-style JSON line on stderr (stdout carries only the handshake line)."""
    entry = {"level": LEVELS[level], "time": int(time.time() * 1000), "name": NAME, "msg": msg, **fields}
    sys.stderr.write(json.dumps(entry) + "\n")
    sys.stderr.flush()


def fail(message):
    sys.stderr.write(message + "\n")
    sys.exit(1)


class IdentityError(Exception):
    pass


class Identities:
    """Verifies the identity headers the kernel signs with this plugin's credential."""

    def __init__(self, credential, public_methods):
        self.credential = credential
        self.public_methods = set(public_methods)

    def verify(self, context, method_path):
        headers = {}
        for key, value in context.invocation_metadata():
            if isinstance(value, str):
                headers.setdefault(key, value)
        caller = headers.get("x-ol-caller")
        auth_method = headers.get("x-ol-auth-method")
        timestamp = headers.get("x-ol-caller-ts")
        signature = headers.get("x-ol-caller-sig")
        if signature is None:
            if method_path in self.public_methods:
                return "", "none"
            raise IdentityError(f"{method_path} requires an identity signed by the kernel; call it through the kernel")
        bad = f"{method_path}: identity headers are not signed with this plugin's credential, or are stale"
        if caller is None or auth_method not in AUTH_METHODS or not timestamp:
            raise IdentityError(bad)
        if caller != "" and not ADDRESS.match(caller):
            raise IdentityError(bad)
        try:
            signed_at = int(timestamp)
        except ValueError:
            raise IdentityError(bad)
        if abs(time.time() * 1000 - signed_at) > MAX_SKEW_MS:
            raise IdentityError(bad)
        text = f"{caller}\n{auth_method}\n{method_path}\n{timestamp}".encode()
        expected = hmac.new(self.credential, text, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise IdentityError(bad)
        return caller, auth_method

    def caller(self, context, method):
        """The verified caller address; aborts the call with UNAUTHENTICATED when it does not verify."""
        try:
            return self.verify(context, f"/{SERVICE}/{method}")[0]
        except IdentityError as err:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(err))


class EchoService(echo_pb2_grpc.EchoServiceServicer):
    """Same behaviour as plugins/examples/echo-ts (see its README), including Echo("stats")."""

    def __init__(self, identities, greeting):
        self.identities = identities
        self.greeting = greeting
        self.lock = threading.Lock()
        self.stats = {"started": 0, "completed": 0, "cancelled": 0, "lastCancelledAfterMs": 0}

    def Echo(self, request, context):
        caller = self.identities.caller(context, "Echo")
        with self.lock:
            message = json.dumps(self.stats) if request.message == "stats" else request.message
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        return echo_pb2.EchoResponse(message=message, payload=request.payload, caller=caller, metadata=metadata)

    def Count(self, request, context):
        self.identities.caller(context, "Count")
        for index in range(request.count):
            if not context.is_active():
                return
            yield echo_pb2.CountResponse(index=index)
            time.sleep(request.interval_ms / 1000)

    def Concat(self, request_iterator, context):
        self.identities.caller(context, "Concat")
        parts = [request.part for request in request_iterator]
        return echo_pb2.ConcatResponse(joined="".join(parts), parts=len(parts))

    def Chat(self, request_iterator, context):
        self.identities.caller(context, "Chat")
        for request in request_iterator:
            yield echo_pb2.ChatResponse(text=self.greeting + request.text)

    def Sleep(self, request, context):
        self.identities.caller(context, "Sleep")
        began = time.monotonic()
        with self.lock:
            self.stats["started"] += 1
        ended = threading.Event()
        context.add_callback(ended.set)  # runs when the RPC terminates, e.g. cancelled by the client
        ended.wait(request.ms / 1000)
        cancelled = not context.is_active()
        with self.lock:
            if cancelled:
                self.stats["cancelled"] += 1
                self.stats["lastCancelledAfterMs"] = int((time.monotonic() - began) * 1000)
            else:
                self.stats["completed"] += 1
        return echo_pb2.SleepResponse(cancelled=cancelled)


def main():
    env = os.environ
    if env.get(COOKIE_KEY) != COOKIE_VALUE:
        fail("This program is an OpenLedger plugin: the kernel starts it (see docs/plugin-protocol.md).")
    offered = [int(v) for v in env.get("OL_PLUGIN_PROTOCOL_VERSIONS", "").split(",") if v.strip().isdigit()]
    common = [v for v in offered if v in SUPPORTED_PROTOCOLS]
    if not common:
        fail(f"no common plugin protocol version: kernel offers {offered}, plugin speaks {SUPPORTED_PROTOCOLS}")
    listen = env.get("OL_PLUGIN_LISTEN") or fail("OL_PLUGIN_LISTEN is not set")
    credential = base64.b64decode(env.get("OL_PLUGIN_CREDENTIAL", ""))
    if len(credential) < 16:
        fail("OL_PLUGIN_CREDENTIAL must be at least 16 base64 bytes")
    config = json.loads(env.get("OL_PLUGIN_CONFIG") or "{}")
    public_methods = [m for m in env.get("OL_PLUGIN_PUBLIC_METHODS", "").split(",") if m]

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    identities = Identities(credential, public_methods)
    echo_pb2_grpc.add_EchoServiceServicer_to_server(EchoService(identities, config.get("greeting", "")), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE, reflection.SERVICE_NAME, health.SERVICE_NAME), server)
    port = server.add_insecure_port(listen)
    if port == 0:
        fail(f"cannot listen on {listen}")
    server.start()
    for service in ("", SERVICE):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    address = listen if listen.startswith("unix:") else re.sub(r":\d+$", f":{port}", listen)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()

    print(json.dumps({"olplugin": 1, "protocol": max(common), "address": address}), flush=True)
    log("info", "serving", address=address, services=[SERVICE], protocol=max(common))
    while not stop.wait(1.0):
        if os.getppid() != parent:
            log("info", "kernel is gone")
            break
    log("info", "shutting down: draining in-flight calls")
    health_servicer.enter_graceful_shutdown()
    server.stop(grace=5).wait()


if __name__ == "__main__":
    main()
