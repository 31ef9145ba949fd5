"""The ports (``adapters.ports``) and the systems that implement them."""
