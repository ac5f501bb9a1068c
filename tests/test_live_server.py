"""The real `python server.py` process: starts, answers, and stops on SIGTERM."""
import json
import urllib.request


def test_server_process_serves_and_stops_cleanly(live_server):
    server = live_server()
    with urllib.request.urlopen(server.url + "/health") as response:
        body = json.load(response)
    assert body["data"]["status"] == "ok"
    assert server.stop() == 0
    assert "listening on http://127.0.0.1" in server.read_log()
