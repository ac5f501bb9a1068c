"""A loopback receiver for the outbound-webhook bench workloads, in a process of its own:

    python bench/outbound_receiver.py quick|silent PORT_FILE [LIFETIME_SECONDS]

`quick` answers every POST 200 at once; `silent` reads the request and never answers (the
server's 10 s timeout ends each attempt). It writes its port to PORT_FILE and exits after
LIFETIME_SECONDS (default 900), so a bench run never leaves it behind for long.
"""
import asyncio
import sys


async def main(mode: str, port_file: str, lifetime: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                if mode == "silent":
                    await asyncio.sleep(lifetime)
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    with open(port_file, "w") as handle_file:
        handle_file.write(str(server.sockets[0].getsockname()[1]))
    try:
        await asyncio.wait_for(server.serve_forever(), lifetime)
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 900.0))
