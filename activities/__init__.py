"""Activities: the only code that calls the CRM and the ERP, through their ports."""
