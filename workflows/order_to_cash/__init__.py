"""The order-to-cash process: from a CRM order to a paid ERP invoice."""
