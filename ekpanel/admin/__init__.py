"""Panel administratora: operator accounts, their companies and rights."""
