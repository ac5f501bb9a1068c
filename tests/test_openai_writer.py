"""The OpenAI writer against a real HTTP server on loopback that speaks the chat-completions API."""
import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.writers import PAIRS
from store.db import unit_of_work
from store.variants import VariantGeneration
from tests.conftest import free_port
from tests.test_variants import BASE, setup_event


def nine_emails(name="Ada"):
    return {"variants": [{"strategy": s, "tone": t, "subject": f"{name}, {s} in a {t} voice",
                          "body_text": f"Hi {name},\n\nA {t} note about {s} from Acme <3. See you soon."}
                         for s, t in PAIRS]}


class FakeOpenAI:
    """`POST /v1/chat/completions`; `mode` decides the answer. Requests are kept for inspection."""

    def __init__(self):
        self.mode = "good"
        self.content = None  # set: the answer's message content, whatever the mode
        self.requests = []
        self.received = threading.Event()
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body})
                fake.received.set()
                if fake.mode == "500":
                    return self.answer(500, {"error": {"message": "boom", "type": "server_error"}})
                if fake.mode == "slow":
                    time.sleep(3)
                if fake.mode == "held":
                    fake.release.wait(30)
                content = fake.content or json.dumps(nine_emails())
                if fake.mode == "malformed":
                    content = '{"variants": [{"strategy": "discount_offer", '
                if fake.mode == "eight":
                    content = json.dumps({"variants": nine_emails()["variants"][:8]})
                if fake.mode == "placeholder":
                    data = nine_emails("[First Name]")
                    content = json.dumps(data)
                self.answer(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                 "message": {"role": "assistant", "content": content, "refusal": None}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                })

            def answer(self, status, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_openai(test_env):
    fake = FakeOpenAI()
    test_env.update({"WINDBACK_OPENAI_API_KEY": "sk-test-not-real", "WINDBACK_OPENAI_BASE_URL": fake.base_url,
                     "WINDBACK_OPENAI_MODEL": "test-model", "WINDBACK_OPENAI_TIMEOUT": "10"})
    yield fake
    fake.stop()


@pytest.fixture
def impatient_openai(fake_openai, test_env):
    test_env["WINDBACK_OPENAI_TIMEOUT"] = "0.5"  # the fake takes 3 s in "slow" mode
    return fake_openai


@pytest.mark.gen_test(timeout=30)
async def test_a_good_answer_becomes_nine_variants_and_the_model_sees_no_address(fake_openai, api):
    _, key, event = await setup_event(api, metadata={"internal_note": "VIP do-not-share"}, customer_id="cus_123")
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 201, r
    assert "meta" not in r.json
    assert len(r.data) == 9 and all(v["generator"] == "openai:test-model" for v in r.data)
    assert {(v["strategy"], v["tone"]) for v in r.data} == set(PAIRS)
    one = next(v for v in r.data if v["strategy"] == "value_reminder" and v["tone"] == "urgent")
    assert one["subject"] == "Ada, value_reminder in a urgent voice"
    assert "Acme &lt;3" in one["body_html"]  # the model writes text; the HTML is escaped here

    [request] = fake_openai.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["authorization"] == "Bearer sk-test-not-real"
    body = request["body"]
    assert body["model"] == "test-model"
    schema = body["response_format"]["json_schema"]
    assert body["response_format"]["type"] == "json_schema" and schema["strict"] is True
    assert schema["schema"]["properties"]["variants"]["items"]["required"] == ["strategy", "tone", "subject",
                                                                               "body_text"]
    sent = json.dumps(body)
    assert "ada@example.com" not in sent and "example.com" not in sent
    assert "VIP" not in sent and "cus_123" not in sent and "Lovelace" not in sent
    user = json.loads(body["messages"][-1]["content"])
    assert user == {"first_name": "Ada", "plan": "Pro", "cancel_reason": "too_expensive",
                    "brand": "Acme", "offer": "20% off your next 3 months"}


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("mode, reason", [("500", "HTTP 500"), ("malformed", "not valid JSON"),
                                          ("eight", "exactly nine"), ("placeholder", "placeholder")])
async def test_failures_fall_back_to_the_template_writer_with_a_warning(fake_openai, api, mode, reason):
    fake_openai.mode = mode
    await generate_falls_back(api, fake_openai, reason)


@pytest.mark.gen_test(timeout=30)
async def test_a_timeout_falls_back_to_the_template_writer_with_a_warning(impatient_openai, api):
    impatient_openai.mode = "slow"
    await generate_falls_back(api, impatient_openai, "did not answer in time")
    assert len(impatient_openai.requests) == 2  # one bounded retry


async def generate_falls_back(api, fake_openai, reason):
    _, key, event = await setup_event(api)
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 201, r
    assert len(r.data) == 9 and all(v["generator"] == "template" for v in r.data)
    assert all("Ada" in v["body_text"] for v in r.data)
    [warning] = r.json["meta"]["warnings"]
    assert "test-model" in warning and reason in warning and "templates" in warning
    assert fake_openai.requests  # it did ask
    r = await api.get(f"{BASE}/{event['id']}", key=key)
    assert r.data["status"] == "variants_ready"


@pytest.fixture
def patient_openai(fake_openai, test_env):
    test_env["WINDBACK_OPENAI_TIMEOUT"] = "20"  # the model answers when the test releases it
    fake_openai.mode = "held"
    return fake_openai


@pytest.mark.gen_test(timeout=30)
async def test_a_slow_model_holds_neither_the_project_nor_a_second_generate(patient_openai, api):
    fake_openai = patient_openai
    _, key, event = await setup_event(api)
    other = (await api.post(BASE, {"customer_email": "bob@example.com"}, key=key)).data
    # The writer's timeout is 0.5 s in this fixture; this test needs the model to take its time.
    generating = asyncio.ensure_future(api.post(f"{BASE}/{event['id']}/generate", key=key))
    while not fake_openai.received.is_set():
        await asyncio.sleep(0.01)
    # The model is still writing: another event of the project changes state meanwhile ...
    r = await api.post(f"{BASE}/{other['id']}/recovered", key=key)
    assert r.status == 200 and r.data["status"] == "recovered"
    r = await api.patch(f"{BASE}/{other['id']}/cancel-reason", {"cancel_reason": "other"}, key=key)
    assert r.status == 200
    # ... and a second generate of the same event is refused.
    r = await api.post(f"{BASE}/{event['id']}/generate", key=key)
    assert r.status == 409 and r.error["code"] == "CONFLICT"
    assert not generating.done()
    fake_openai.release.set()
    r = await generating
    assert r.status == 201 and len(r.data) == 9
    assert all(v["generator"] == "openai:test-model" for v in r.data)  # the held answer, not a fallback
    assert len(fake_openai.requests) == 1


@pytest.mark.gen_test(timeout=30)
async def test_an_event_recovered_while_its_emails_are_written_keeps_no_variants(patient_openai, api):
    _, key, event = await setup_event(api)
    generating = asyncio.ensure_future(api.post(f"{BASE}/{event['id']}/generate", key=key))
    while not patient_openai.received.is_set():
        await asyncio.sleep(0.01)
    r = await api.post(f"{BASE}/{event['id']}/recovered", key=key)
    assert r.status == 200
    patient_openai.release.set()
    r = await generating
    assert r.status == 409 and "recovered" in r.error["message"]
    r = await api.get(f"{BASE}/{event['id']}/variants", key=key)
    assert r.json["meta"]["total"] == 0
    with unit_of_work():
        assert VariantGeneration.select().count() == 0  # the claim was released
