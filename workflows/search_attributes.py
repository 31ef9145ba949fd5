"""The typed search attributes peyvand writes, registered on every server it uses."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
ERP_ORDER_NUMBER = SearchAttributeKey.for_keyword("ErpOrderNumber")
ORDER_TOTAL = SearchAttributeKey.for_float("OrderTotal")

ALL = (ORDER_ID, CUSTOMER_ID, ORDER_STATUS, ERP_ORDER_NUMBER, ORDER_TOTAL)
