"""The HTTP ingress: signed CRM and ERP webhooks, the approvals API, status reads and the codec
server, in one FastAPI app (``ingress.app.create_app``) served by uvicorn."""
