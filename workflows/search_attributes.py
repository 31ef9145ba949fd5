"""The typed search attributes peyvand writes, registered on every server it uses."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
ERP_ORDER_NUMBER = SearchAttributeKey.for_keyword("ErpOrderNumber")
ORDER_TOTAL = SearchAttributeKey.for_float("OrderTotal")

ALL = (ORDER_ID, CUSTOMER_ID, ORDER_STATUS, ERP_ORDER_NUMBER, ORDER_TOTAL)


def cli_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    kinds = {"KEYWORD": "Keyword", "DOUBLE": "Double", "INT": "Int", "TEXT": "Text"}
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
