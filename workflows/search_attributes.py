"""The typed search attributes peyvand writes, registered on every server it uses."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
ERP_ORDER_NUMBER = SearchAttributeKey.for_keyword("ErpOrderNumber")
ORDER_TOTAL = SearchAttributeKey.for_float("OrderTotal")

# Approval chains: "pending for finance" is ``ApprovalStatus = 'PENDING' AND ApproverGroup =
# 'finance'``; "pending for alice" is ``PendingApprovers = 'alice'``. User ids only, no names.
APPROVAL_STATUS = SearchAttributeKey.for_keyword("ApprovalStatus")
APPROVER_GROUP = SearchAttributeKey.for_keyword_list("ApproverGroup")
PENDING_APPROVERS = SearchAttributeKey.for_keyword_list("PendingApprovers")
REQUEST_KIND = SearchAttributeKey.for_keyword("RequestKind")
REQUEST_AMOUNT = SearchAttributeKey.for_float("RequestAmount")

# Returns: OrderId (above) is the order the goods came from.
RETURN_ID = SearchAttributeKey.for_keyword("ReturnId")
RETURN_STATUS = SearchAttributeKey.for_keyword("ReturnStatus")

ALL = (
    ORDER_ID,
    CUSTOMER_ID,
    ORDER_STATUS,
    ERP_ORDER_NUMBER,
    ORDER_TOTAL,
    APPROVAL_STATUS,
    APPROVER_GROUP,
    PENDING_APPROVERS,
    REQUEST_KIND,
    REQUEST_AMOUNT,
    RETURN_ID,
    RETURN_STATUS,
)
