"""The embedded run's webhook secrets and ``python -m ingress send``, against the ingress served
over TCP."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.sandbox import seed
from infra.devserver import free_port
from infra.settings import Settings
from ingress.secrets import SecretsError, ensure_embedded_secrets, secret_for, secrets_file, send
from ingress.serve import running
from ingress.signing import Source
from tests.cli import run_python
from tests.ingress.conftest import CRM_SECRET, Door, crm_order, new_id


def _bare(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]


def test_embedded_secrets_are_made_once_private_and_yield_to_the_environment(
    tmp_path: Path,
) -> None:
    first = ensure_embedded_secrets(_bare(tmp_path))
    path = secrets_file(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.ingress_crm_secret and first.ingress_erp_secret
    crm, erp = first.ingress_crm_secret.get_secret_value(), first.ingress_erp_secret
    assert crm != erp.get_secret_value() and len(crm) >= 32
    again = ensure_embedded_secrets(_bare(tmp_path))
    assert again.ingress_crm_secret and again.ingress_crm_secret.get_secret_value() == crm
    configured = _bare(tmp_path).model_copy(update={"ingress_crm_secret": SecretStr("mine")})
    mixed = ensure_embedded_secrets(configured)
    assert mixed.ingress_crm_secret and mixed.ingress_crm_secret.get_secret_value() == "mine"
    assert secret_for(configured, Source.CRM) == b"mine"
    assert secret_for(_bare(tmp_path), Source.ERP) == erp.get_secret_value().encode()


def test_a_shared_half_file_or_one_missing_a_secret_is_refused(tmp_path: Path) -> None:
    path = secrets_file(_bare(tmp_path))
    path.write_text("crm=abc\n")
    path.chmod(0o644)
    with pytest.raises(SecretsError, match="readable by others"):
        ensure_embedded_secrets(_bare(tmp_path))
    path.chmod(0o600)
    with pytest.raises(SecretsError, match="no erp secret"):
        ensure_embedded_secrets(_bare(tmp_path))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".webhook-secrets-")]


def test_no_secret_and_a_broken_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="PEYVAND_INGRESS_ERP_SECRET"):
        secret_for(_bare(tmp_path), Source.ERP)
    secrets_file(_bare(tmp_path)).write_text("crm: not-this-format\n")
    secrets_file(_bare(tmp_path)).chmod(0o600)
    with pytest.raises(SecretsError, match="webhook-secrets:1"):
        secret_for(_bare(tmp_path), Source.CRM)
    with pytest.raises(SecretsError, match="not 'orders'"):
        send(_bare(tmp_path), "http://127.0.0.1:9", Source.ERP, "orders", b"{}")


@pytest.mark.devserver
async def test_send_signs_as_the_source_and_the_ingress_acts_once(door: Door) -> None:
    settings = door.settings.model_copy(update={"ingress_port": free_port()})
    order_id = new_id("SD")
    assert await door.crm.create_order(
        crm_order(order_id, seed.ACCOUNT_SEPAHAN, seed.SKU_PLC, 1, "100.00")
    )
    body = json.dumps({"event_id": new_id("evt"), "order_id": order_id})
    env = {
        "PEYVAND_DATA_DIR": str(settings.data_dir),
        "PEYVAND_INGRESS_PORT": str(settings.ingress_port),
        "PEYVAND_INGRESS_CRM_SECRET": CRM_SECRET,
        "PATH": "/usr/bin:/bin",
    }

    async def cli(*args: str) -> tuple[int, str]:
        return await run_python("-m", "ingress", "send", *args, env=env)

    async with running(door.app, settings):
        code, out = await cli("crm", "orders", body)
        assert code == 0 and out.startswith("202") and '"duplicate":false' in out, out
        code, out = await cli("crm", "orders", body)
        assert code == 0 and '"duplicate":true' in out, out
        code, out = await cli("crm", "orders", '{"order_id": 7}')
        assert code == 1 and out.startswith("422") and "event_id" in out, out
        # The ERP's secret is not configured in this environment: refused before sending.
        code, out = await cli("erp", "shipments", body)
        assert code == 1 and "PEYVAND_INGRESS_ERP_SECRET" in out, out
