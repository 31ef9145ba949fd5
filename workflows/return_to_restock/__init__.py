"""Return-to-restock: from a CRM return case to goods back in stock and a credit note."""
