"""The history as the server stores it holds no customer data in plain text; with the key it
decodes, through the codec and through the codec server the Web UI uses."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads

from adapters.sandbox import seed
from domain.orders import OrderStatus
from infra.codec import ENCODING, AesGcmCodec, KeyRing
from infra.orders import reached, wait_for
from tests.cli import run_python
from tests.ingress.conftest import Door, crm_order, new_id

pytestmark = pytest.mark.devserver

SEPAHAN = next(a for a in seed.DEMO_ACCOUNTS if a.account_id == seed.ACCOUNT_SEPAHAN)
assert SEPAHAN.email and SEPAHAN.tax_id and SEPAHAN.address and SEPAHAN.phone
PERSONAL = {
    "name": SEPAHAN.name.encode(),
    "english name": b"Sepahan Steel",
    "e-mail": SEPAHAN.email.encode(),
    "tax id": SEPAHAN.tax_id.encode(),
    "address": SEPAHAN.address.encode(),
    "phone": SEPAHAN.phone.encode(),
}


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere in a protobuf message (fields, lists and maps)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            items = [v for v in value.values() if isinstance(v, Message)]
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            yield from payloads_in(item)


async def _order_with_customer_data(door: Door) -> str:
    order_id = new_id("ENC")
    order = crm_order(order_id, seed.ACCOUNT_SEPAHAN, seed.SKU_PLC, 2, "120.00")
    assert await door.crm.create_order(order)
    event = {"event_id": new_id("evt"), "order_id": order_id}
    assert (await door.deliver("crm", "orders", event)).status_code == 202
    # By then the CRM order and account (name, e-mail, tax id, address) went through history.
    await wait_for(door.client, order_id, reached(OrderStatus.AWAITING_SHIPMENT))
    return f"order-{order_id}"


async def test_raw_history_holds_no_customer_data_and_decodes_with_the_key(door: Door) -> None:
    workflow_id = await _order_with_customer_data(door)
    # The plain client has no codec: it sees what the server stores.
    history = await door.plain.get_workflow_handle(workflow_id).fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    raw += history.to_json().encode()
    for what, value in PERSONAL.items():
        assert value not in raw, f"the customer's {what} is in the history in plain text"

    payloads = [p for event in history.events for p in payloads_in(event)]
    sealed = [p for p in payloads if p.metadata["encoding"] == ENCODING]
    # Left in the clear, by Temporal's design: search attributes (typed, for the server to index)
    # and the SDK's patch markers (a patch id). Every other payload is encrypted.
    for p in payloads:
        if p.metadata["encoding"] != ENCODING:
            assert "type" in p.metadata or json.loads(p.data).keys() == {"id", "deprecated"}, p
    assert len(sealed) > 20
    assert {p.metadata["encryption-key-id"] for p in sealed} == {b"test-1"}

    clear = await AesGcmCodec(door.ring).decode(sealed)
    text = b"".join(p.SerializeToString() for p in clear)
    for what, value in PERSONAL.items():
        assert value in text, f"the customer's {what} is not in the decrypted history"

    # A key that is not the one used decrypts nothing.
    other = AesGcmCodec(KeyRing.parse(KeyRing.new_item("test-1")))
    with pytest.raises(ValueError, match="does not decrypt"):
        await other.decode(sealed[:1])

    # Search attributes are not encrypted: none may carry personal data.
    described = await door.plain.get_workflow_handle(workflow_id).describe()
    info = described.raw_description.workflow_execution_info
    indexed = info.search_attributes.SerializeToString() + info.memo.SerializeToString()
    for what, value in PERSONAL.items():
        assert value not in indexed, f"the customer's {what} is in a search attribute or memo"


async def test_the_codec_server_decodes_for_the_web_ui(door: Door) -> None:
    workflow_id = await _order_with_customer_data(door)
    history = await door.plain.get_workflow_handle(workflow_id).fetch_history()
    payloads = [p for event in history.events for p in payloads_in(event)]
    document = json_format.MessageToJson(Payloads(payloads=payloads))
    ui = "http://localhost:8233"
    headers = {"Content-Type": "application/json", "X-Namespace": "default", "Origin": ui}

    response = await door.http.post("/codec/decode", content=document, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ui
    decoded = json_format.Parse(response.content, Payloads()).payloads
    assert all(p.metadata.get("encoding") != ENCODING for p in decoded)
    text = b"".join(p.data for p in decoded)
    assert PERSONAL["e-mail"] in text and PERSONAL["english name"] in text

    # And back: what the UI encodes (e.g. a signal's input) is encrypted with the active key.
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps("hello").encode())
    body = json_format.MessageToJson(Payloads(payloads=[plain]))
    encoded = await door.http.post("/codec/encode", content=body, headers=headers)
    sealed = json_format.Parse(encoded.content, Payloads()).payloads[0]
    assert sealed.metadata["encoding"] == ENCODING and b"hello" not in sealed.data
    assert (await AesGcmCodec(door.ring).decode([sealed]))[0] == plain

    preflight = await door.http.options(
        "/codec/decode",
        headers={
            "Origin": ui,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200
    stranger = await door.http.post(
        "/codec/decode", content=document, headers={**headers, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in stranger.headers
    garbage = await door.http.post("/codec/decode", content=b"{nope", headers=headers)
    assert garbage.status_code == 400
    unknown_key = Payload(
        metadata={"encoding": ENCODING, "encryption-key-id": b"gone"},
        data=base64.b64encode(b"x" * 40),
    )
    body = json_format.MessageToJson(Payloads(payloads=[unknown_key]))
    refused = await door.http.post("/codec/decode", content=body, headers=headers)
    assert refused.status_code == 400 and "unknown key" in refused.json()["detail"]


async def test_the_cli_without_the_key_says_so_instead_of_a_traceback(door: Door) -> None:
    workflow_id = await _order_with_customer_data(door)
    order_id = workflow_id.removeprefix("order-")
    env = {
        "PATH": "/usr/bin:/bin",
        "PEYVAND_TEMPORAL_ADDRESS": door.settings.temporal_address,
        "PEYVAND_DATA_DIR": str(door.settings.data_dir / "elsewhere"),  # no embedded key there
    }

    async def status(*extra: str) -> tuple[int, str]:
        more = dict(e.split("=", 1) for e in extra)
        return await run_python("starter.py", "status", order_id, env={**env, **more})

    code, out = await status()
    assert code == 2 and "history is encrypted" in out and "Traceback" not in out, out
    code, out = await status(f"PEYVAND_CODEC_KEYS={KeyRing.new_item('other-1')}")
    assert code == 2 and "unknown key" in out and "Traceback" not in out, out
    assert door.settings.codec_keys is not None
    code, out = await status(f"PEYVAND_CODEC_KEYS={door.settings.codec_keys.get_secret_value()}")
    assert code == 0 and order_id in out, out
