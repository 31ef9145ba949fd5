"""Demo data for the sandbox CRM and ERP: an Iranian distributor of industrial electronics.

Like the case study it is modelled on (thousands of items in five warehouses), stock is spread
over five warehouses. ``seed_demo`` is idempotent: it only adds what is missing, so running it
again (even after orders went through) changes nothing and never duplicates.

Stable names for the demo, the CLI and the tests:

* ``WAREHOUSES``: ``(code, name, lead_days)`` in ERP order: ``THR`` (Tehran central, 1 day),
  ``IFN`` (Isfahan, 2), ``TBZ`` (Tabriz, 3), ``MHD`` (Mashhad, 3), ``SYZ`` (Shiraz, 2).
* ``DEMO_PRODUCTS``: the ``ErpProduct`` records, all priced in EUR; ``DEMO_SKUS`` their SKUs.
  Named ones: ``SKU_PLC``, ``SKU_HMI``, ``SKU_DRIVE``, ``SKU_SENSOR``, ``SKU_CABLE``, ``SKU_UPS``,
  ``SKU_ROUTER``, ``SKU_SWITCH``, ``SKU_MOTOR``, ``SKU_SERVER`` (scarce: 3 in stock in all) and
  ``SKU_LEGACY_MODEM`` (no longer sold: ``active=False``, no stock).
* ``DEMO_STOCK``: ``(sku, warehouse) -> on hand`` as first seeded.
* Users: ``SALES_REP`` ("sara.ahmadi") and ``SALES_REP_2`` ("ali.rezaei") with role "sales";
  ``APPROVERS`` ("reza.karimi", "maryam.hosseini") with role "approver"; ``FINANCE``
  ("leila.mohammadi", role "finance"); ``FORMER_APPROVER`` ("hamid.moradi", approver but
  inactive, so never listed); ``SALES_DIRECTOR`` ("farhad.jafari", role "director") and ``CFO``
  ("nasrin.kazemi", roles "cfo", "finance"). The approver groups of ``config/directory.yaml``
  are made of these users.
* CRM accounts (``DEMO_ACCOUNTS``) and how the ERP knows them:

  - ``ACCOUNT_SEPAHAN`` "ACC-1001": in the ERP as ``CUSTOMER_SEPAHAN`` "C-000001" with the same
    tax id but no external reference (found by tax id); ample credit.
  - ``ACCOUNT_PARS`` "ACC-1002": unknown to the ERP (created on its first order, credit limit 0).
  - ``ACCOUNT_ALBORZ`` "ACC-1003": ``CUSTOMER_ALBORZ`` "C-000002", same tax id, **blocked**.
  - ``ACCOUNT_KAVEH`` "ACC-1004": no tax id in the CRM; ``CUSTOMER_KAVEH`` "C-000003" found by
    e-mail (different case); credit limit 5,000 EUR of which 3,200 is already owed.
  - ``ACCOUNT_NOVIN`` "ACC-1005": already linked to ``CUSTOMER_NOVIN`` "C-000004" (external
    reference and CRM cross-reference both set).

No CRM orders are created: the demo creates those.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.sandbox.crm import SandboxCRM
from adapters.sandbox.erp import SandboxERP
from domain.errors import RecordNotFound
from domain.models import CrmAccount, CrmUser, ErpCustomer, ErpProduct

__all__ = [
    "ACCOUNT_ALBORZ",
    "ACCOUNT_KAVEH",
    "ACCOUNT_NOVIN",
    "ACCOUNT_PARS",
    "ACCOUNT_SEPAHAN",
    "APPROVERS",
    "CUSTOMER_ALBORZ",
    "CUSTOMER_KAVEH",
    "CUSTOMER_NOVIN",
    "CFO",
    "CUSTOMER_SEPAHAN",
    "CURRENCY",
    "DEMO_ACCOUNTS",
    "DEMO_ERP_CUSTOMERS",
    "DEMO_PRODUCTS",
    "DEMO_SKUS",
    "DEMO_STOCK",
    "DEMO_USERS",
    "FINANCE",
    "FORMER_APPROVER",
    "SALES_DIRECTOR",
    "SALES_REP",
    "SALES_REP_2",
    "SKU_CABLE",
    "SKU_DRIVE",
    "SKU_HMI",
    "SKU_LEGACY_MODEM",
    "SKU_MOTOR",
    "SKU_PLC",
    "SKU_ROUTER",
    "SKU_SENSOR",
    "SKU_SERVER",
    "SKU_SWITCH",
    "SKU_UPS",
    "WAREHOUSES",
    "seed_demo",
]

CURRENCY = "EUR"

WAREHOUSES: tuple[tuple[str, str, int], ...] = (
    ("THR", "انبار مرکزی تهران — Tehran central", 1),
    ("IFN", "انبار اصفهان — Isfahan", 2),
    ("TBZ", "انبار تبریز — Tabriz", 3),
    ("MHD", "انبار مشهد — Mashhad", 3),
    ("SYZ", "انبار شیراز — Shiraz", 2),
)

SKU_PLC = "IND-PLC-100"
SKU_HMI = "IND-HMI-07"
SKU_DRIVE = "IND-VFD-22"
SKU_SENSOR = "IND-SEN-PX8"
SKU_CABLE = "IND-CBL-50"
SKU_MOTOR = "IND-MTR-55"
SKU_UPS = "ELC-UPS-3K"
SKU_ROUTER = "ELC-RTR-LTE"
SKU_SWITCH = "ELC-SW-24"
SKU_SERVER = "ELC-SRV-R1"
SKU_LEGACY_MODEM = "ELC-MDM-56K"


def _product(sku: str, name: str, price: str, category: str, **extra: object) -> ErpProduct:
    return ErpProduct.model_validate(
        {
            "sku": sku,
            "name": name,
            "list_price": Decimal(price),
            "currency": CURRENCY,
            "category": category,
            **extra,
        }
    )


DEMO_PRODUCTS: tuple[ErpProduct, ...] = (
    _product(SKU_PLC, "کنترلر PLC سری ۱۰۰ — PLC controller S100", "420.00", "automation"),
    _product(SKU_HMI, "نمایشگر لمسی ۷ اینچ — 7-inch HMI touch panel", "310.00", "automation"),
    _product(SKU_DRIVE, "اینورتر ۲٫۲ کیلووات — 2.2 kW frequency drive", "265.50", "drives"),
    _product(SKU_SENSOR, "سنسور القایی M8 — Inductive proximity sensor M8", "18.40", "sensors"),
    _product(
        SKU_CABLE, "کابل شیلددار ۵۰ متری — Shielded cable 50 m", "42.90", "cabling", unit="roll"
    ),
    _product(SKU_MOTOR, "الکتروموتور ۵٫۵ کیلووات — 5.5 kW electric motor", "612.00", "drives"),
    _product(SKU_UPS, "یو‌پی‌اس ۳ کیلوولت‌آمپر — 3 kVA UPS", "890.00", "power"),
    _product(SKU_ROUTER, "روتر صنعتی LTE — Industrial LTE router", "238.00", "networking"),
    _product(SKU_SWITCH, "سوئیچ مدیریتی ۲۴ پورت — 24-port managed switch", "329.00", "networking"),
    _product(SKU_SERVER, "سرور رک‌مونت R1 — Rack server R1", "3450.00", "computing"),
    _product(
        SKU_LEGACY_MODEM,
        "مودم دایل‌آپ ۵۶K — 56K dial-up modem",
        "25.00",
        "networking",
        active=False,
    ),
)
DEMO_SKUS: tuple[str, ...] = tuple(p.sku for p in DEMO_PRODUCTS)

_STOCK_TABLE: dict[str, tuple[int, int, int, int, int]] = {
    # sku:            THR  IFN  TBZ  MHD  SYZ
    SKU_PLC: (40, 15, 10, 8, 6),
    SKU_HMI: (25, 10, 5, 5, 4),
    SKU_DRIVE: (30, 12, 6, 6, 6),
    SKU_SENSOR: (600, 250, 150, 150, 120),
    SKU_CABLE: (80, 40, 20, 20, 15),
    SKU_MOTOR: (6, 4, 2, 2, 1),
    SKU_UPS: (12, 6, 0, 3, 2),
    SKU_ROUTER: (20, 8, 4, 4, 4),
    SKU_SWITCH: (18, 6, 3, 3, 2),
    SKU_SERVER: (2, 1, 0, 0, 0),
    SKU_LEGACY_MODEM: (0, 0, 0, 0, 0),
}
DEMO_STOCK: dict[tuple[str, str], Decimal] = {
    (sku, code): Decimal(quantity)
    for sku, quantities in _STOCK_TABLE.items()
    for (code, _, _), quantity in zip(WAREHOUSES, quantities, strict=True)
}

SALES_REP = "sara.ahmadi"
SALES_REP_2 = "ali.rezaei"
APPROVERS: tuple[str, ...] = ("maryam.hosseini", "reza.karimi")
FINANCE = "leila.mohammadi"
FORMER_APPROVER = "hamid.moradi"
SALES_DIRECTOR = "farhad.jafari"
CFO = "nasrin.kazemi"

DEMO_USERS: tuple[CrmUser, ...] = (
    CrmUser(user_id=SALES_REP, name="سارا احمدی (Sara Ahmadi)", roles=["sales"]),
    CrmUser(user_id=SALES_REP_2, name="علی رضایی (Ali Rezaei)", roles=["sales"]),
    CrmUser(user_id="reza.karimi", name="رضا کریمی (Reza Karimi)", roles=["approver", "sales"]),
    CrmUser(user_id="maryam.hosseini", name="مریم حسینی (Maryam Hosseini)", roles=["approver"]),
    CrmUser(user_id=FINANCE, name="لیلا محمدی (Leila Mohammadi)", roles=["finance"]),
    CrmUser(user_id=SALES_DIRECTOR, name="فرهاد جعفری (Farhad Jafari)", roles=["director"]),
    CrmUser(user_id=CFO, name="نسرین کاظمی (Nasrin Kazemi)", roles=["cfo", "finance"]),
    CrmUser(
        user_id=FORMER_APPROVER, name="حمید مرادی (Hamid Moradi)", roles=["approver"], active=False
    ),
)

ACCOUNT_SEPAHAN = "ACC-1001"
ACCOUNT_PARS = "ACC-1002"
ACCOUNT_ALBORZ = "ACC-1003"
ACCOUNT_KAVEH = "ACC-1004"
ACCOUNT_NOVIN = "ACC-1005"
CUSTOMER_SEPAHAN = "C-000001"
CUSTOMER_ALBORZ = "C-000002"
CUSTOMER_KAVEH = "C-000003"
CUSTOMER_NOVIN = "C-000004"

DEMO_ACCOUNTS: tuple[CrmAccount, ...] = (
    CrmAccount(
        account_id=ACCOUNT_SEPAHAN,
        name="شرکت فولاد سپاهان (Sepahan Steel Co.)",
        tax_id="10260011223",
        email="purchasing@sepahan-steel.example",
        phone="+98 31 3522 1100",
        address="اصفهان، شهرک صنعتی مبارکه",
        segment="industrial",
    ),
    CrmAccount(
        account_id=ACCOUNT_PARS,
        name="صنایع الکترونیک پارس (Pars Electronics Industries)",
        tax_id="10320876540",
        email="orders@pars-electronics.example",
        phone="+98 21 8876 4410",
        address="تهران، خیابان ولیعصر، پلاک ۱۲۰۰",
        segment="electronics",
    ),
    CrmAccount(
        account_id=ACCOUNT_ALBORZ,
        name="پخش دارویی البرز (Alborz Pharma Distribution)",
        tax_id="10103345678",
        email="procurement@alborz-pharma.example",
        phone="+98 26 3440 2200",
        address="کرج، بلوار جمهوری",
        segment="distribution",
    ),
    CrmAccount(
        account_id=ACCOUNT_KAVEH,
        name="گروه صنعتی کاوه (Kaveh Industrial Group)",
        email="Finance@KavehGroup.example",
        phone="+98 41 3455 9080",
        address="تبریز، شهرک صنعتی شهید سلیمی",
        segment="industrial",
    ),
    CrmAccount(
        account_id=ACCOUNT_NOVIN,
        name="داده‌پردازان نوین (Novin Data Processing)",
        tax_id="10530098765",
        email="it@novin-data.example",
        phone="+98 51 3760 1234",
        address="مشهد، بلوار سجاد",
        segment="it-services",
        erp_customer_id=CUSTOMER_NOVIN,
    ),
)

DEMO_ERP_CUSTOMERS: tuple[tuple[ErpCustomer, Decimal], ...] = (
    (
        ErpCustomer(
            customer_id=CUSTOMER_SEPAHAN,
            name="Sepahan Steel Co. / فولاد سپاهان",
            tax_id="10260011223",
            email="accounts@sepahan-steel.example",
            currency=CURRENCY,
            credit_limit=Decimal("150000.00"),
        ),
        Decimal("12500.00"),
    ),
    (
        ErpCustomer(
            customer_id=CUSTOMER_ALBORZ,
            name="Alborz Pharma Distribution / پخش دارویی البرز",
            tax_id="10103345678",
            email="finance@alborz-pharma.example",
            currency=CURRENCY,
            credit_limit=Decimal("40000.00"),
            blocked=True,
        ),
        Decimal("38750.00"),
    ),
    (
        ErpCustomer(
            customer_id=CUSTOMER_KAVEH,
            name="Kaveh Industrial Group / گروه صنعتی کاوه",
            tax_id="10861234567",
            email="finance@kavehgroup.example",
            currency=CURRENCY,
            credit_limit=Decimal("5000.00"),
        ),
        Decimal("3200.00"),
    ),
    (
        ErpCustomer(
            customer_id=CUSTOMER_NOVIN,
            external_ref=ACCOUNT_NOVIN,
            name="Novin Data Processing / داده‌پردازان نوین",
            tax_id="10530098765",
            email="it@novin-data.example",
            currency=CURRENCY,
            credit_limit=Decimal("60000.00"),
        ),
        Decimal("0.00"),
    ),
)


async def seed_demo(crm: SandboxCRM, erp: SandboxERP) -> None:
    """Create the schemas and add whatever demo data is missing; idempotent.

    Records that exist already are left as they are, so seeding after orders went through
    neither resets stock nor undoes the account links the integration wrote.
    """
    await crm.create_schema()
    await erp.create_schema()

    for code, name, lead_days in WAREHOUSES:
        await erp.upsert_warehouse(code, name, lead_days)
    known = {p.sku for p in await erp.get_products(DEMO_SKUS)}
    for product in DEMO_PRODUCTS:
        if product.sku not in known:
            await erp.upsert_product(product)
    stocked = await erp.stock_snapshot()
    for (sku, code), on_hand in DEMO_STOCK.items():
        if (sku, code) not in stocked:
            await erp.set_stock(sku, code, on_hand)
    for customer, opening in DEMO_ERP_CUSTOMERS:
        try:
            await erp.get_credit_status(customer.customer_id)
        except RecordNotFound:
            await erp.upsert_customer(customer, opening)

    for user in DEMO_USERS:
        await crm.upsert_user(user)
    for account in DEMO_ACCOUNTS:
        try:
            await crm.get_account(account.account_id)
        except RecordNotFound:
            await crm.upsert_account(account)
