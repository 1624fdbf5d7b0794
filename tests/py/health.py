"""Asks a gRPC server's standard health service (grpc.health.v1) for a service's status
with grpcio's own stub, a client gptsweep did not write, and prints it (SERVING,
NOT_SERVING, ...), or UNAVAILABLE when the call itself fails.

usage: health.py HOST:PORT [SERVICE]
"""

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> None:
    addr = sys.argv[1]
    service = sys.argv[2] if len(sys.argv) > 2 else ""
    with grpc.insecure_channel(addr) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        except grpc.RpcError as e:
            print(e.code().name)
            return
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


if __name__ == "__main__":
    main()
