"""The embedded sandbox CRM and ERP: real systems on SQLAlchemy that stand in for vendor ones.

``SandboxCRM`` implements ``CRMPort`` and ``SandboxERP`` implements ``ERPPort``, each on a
database of its own (SQLite by default, PostgreSQL or any SQLAlchemy URL). ``seed_demo`` fills
them with demo data.
"""

from adapters.sandbox.crm import SandboxCRM
from adapters.sandbox.erp import SandboxERP
from adapters.sandbox.seed import seed_demo

__all__ = ["SandboxCRM", "SandboxERP", "seed_demo"]
