"""A misbehaving TCP device for tests: every request is answered with the
first bytes of a plausible reply and then nothing ("hang"), or with random
bytes ("garbage").

    /usr/bin/python3 badtcp.py hang|garbage PORT
"""
import os
import socket
import sys
import threading
import time


def serve(conn, mode):
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                return
            if mode == "hang":
                # a Modbus MBAP header (or an HTTP status line) cut short
                conn.sendall(data[:4] if data[:1] != b"G" else b"HTTP/1.1 200 OK\r\nContent-Le")
                time.sleep(3600)
            else:
                conn.sendall(os.urandom(64))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(64)
    print("READY", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, mode), daemon=True).start()


if __name__ == "__main__":
    main()
