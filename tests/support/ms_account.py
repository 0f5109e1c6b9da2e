"""The office's Microsoft 365 application and mailbox, as the emulator fixture registers them."""

TENANT_ID = "7d3c9a51-1b2e-4f60-9a8b-0c1d2e3f4a5b"
CLIENT_ID = "0b6f3e2a-5c4d-4e8f-9a1b-2c3d4e5f6a7b"
CLIENT_SECRET = "Zq8~emulator.secret-value_1234567890abcd"
MAILBOX = "faktury@biuro-rachunkowe.onmicrosoft.com"
