"""NIP validation for the company form: the one implementation lives in ``ekpanel.invoices.nip``."""

from ekpanel.invoices.nip import is_valid_nip, normalise_nip

__all__ = ["is_valid_nip", "normalise_nip"]
