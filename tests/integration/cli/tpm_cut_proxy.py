#!/usr/bin/env python3
"""A swtpm that goes away after N commands, for the CLI tests (node_swtpm_disk.sh).

tpm_cut_proxy.py PORTFILE LIMIT TARGET_PORT

Listens on a free pair of loopback ports P (TPM commands) and P+1 (swtpm's control channel)
and forwards them to TARGET_PORT and TARGET_PORT+1, as a swtpm TCTI expects. It reads each
TPM command (its 10-byte header gives the size) and its response whole; once LIMIT commands
have been answered it closes every connection and both listeners and exits: to its client
the TPM is gone, between two commands. P is written to PORTFILE once both ports listen. At
exit it writes the number of commands answered to PORTFILE.count (LIMIT -1: no limit; the
proxy then runs until killed, and writes the count after every command).
"""
import os
import random
import socket
import struct
import sys
import threading

portfile, limit, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
count = 0
lock = threading.Lock()
conns = []


def write_count():
    with open(portfile + ".count.tmp", "w") as f:
        f.write(f"{count}\n")
    os.replace(portfile + ".count.tmp", portfile + ".count")


def cut():
    write_count()
    for c in conns:
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    os._exit(0)


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        part = s.recv(n - len(buf))
        if not part:
            raise EOFError
        buf += part
    return buf


def read_message(s):
    head = read_exact(s, 10)
    size = struct.unpack(">I", head[2:6])[0]
    return head + read_exact(s, size - 10)


def commands(client):
    global count
    server = socket.create_connection(("127.0.0.1", target))
    conns.append(server)
    try:
        while True:
            server.sendall(read_message(client))
            client.sendall(read_message(server))
            with lock:
                count += 1
                if limit >= 0 and count >= limit:
                    cut()
                write_count()
    except (EOFError, OSError):
        pass
    finally:
        client.close()
        server.close()


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        a.close()
        b.close()


def control(client):
    server = socket.create_connection(("127.0.0.1", target + 1))
    conns.append(server)
    threading.Thread(target=pipe, args=(server, client), daemon=True).start()
    pipe(client, server)


def serve(listener, handler):
    while True:
        client, _ = listener.accept()
        conns.append(client)
        threading.Thread(target=handler, args=(client,), daemon=True).start()


def listen_pair():
    for _ in range(50):
        port = random.randrange(10000, 32000)  # below the ephemeral range, as swtpm_lib.sh
        a = socket.socket()
        b = socket.socket()
        try:
            a.bind(("127.0.0.1", port))
            b.bind(("127.0.0.1", port + 1))
        except OSError:
            a.close()
            b.close()
            continue
        a.listen(8)
        b.listen(8)
        return port, a, b
    sys.exit("tpm_cut_proxy: no free port pair")


if limit == 0:
    sys.exit("tpm_cut_proxy: LIMIT 0 is no TPM at all; give 1 or more, or -1")
port, cmd_listener, ctl_listener = listen_pair()
conns.extend([cmd_listener, ctl_listener])
threading.Thread(target=serve, args=(ctl_listener, control), daemon=True).start()
with open(portfile + ".tmp", "w") as f:
    f.write(f"{port}\n")
os.replace(portfile + ".tmp", portfile)
serve(cmd_listener, commands)
