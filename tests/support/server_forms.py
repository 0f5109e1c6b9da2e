"""What an administrator types into the server dialog, for the tests of the servers pages."""

from tests.support.ms_account import CLIENT_ID, TENANT_ID

PASSWORD = "Zupe!nie-Tajne-Haslo-42"
CLIENT_SECRET = "Qx8~abcdEFGHijklMNOPqrstUVWXyz0123456789"

IMAP_FORM = {
    "protocol": "imap",
    "host": "imap.biuro.pl",
    "port": "",
    "encryption": "ssl",
    "username": "faktury@biuro.pl",
    "password": PASSWORD,
    "whitelist": "Faktury@Dostawca.pl, *@helpoffice.pl; faktury@dostawca.pl",
    "folders": "INBOX\nspam",
    "active": "y",
}
GRAPH_FORM = {
    "protocol": "graph",
    "name": "Outlook biura",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "tenant": TENANT_ID,
    "mailbox_address": "faktury@contoso.com",
    "secret_expires_on": "2028-11-24",
    "whitelist": "*@dostawca.pl",
    "folders": "INBOX",
    "active": "y",
}
