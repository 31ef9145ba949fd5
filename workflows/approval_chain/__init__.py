"""The approval chain: multi-level human approvals as a workflow of their own."""
