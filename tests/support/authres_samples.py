"""Authentication-Results fields as receiving servers write them, for the reader's tests.

The sample fields are our own, written in the shapes each receiving server documents or writes
(host names and addresses are invented):

- Gmail: ``mx.google.com`` with ``header.i`` instead of ``header.d`` and an unquoted ``header.b``;
- Exchange Online: no authserv-id, ``action=`` and ``compauth= reason=``, as in Microsoft's
  "Anti-spam message headers" page (section "Authentication-results message header");
- rspamd: as its ``lualib/lua_auth_results.lua`` builds them (dmarc reason quoted, policy comment
  after ``header.from``);
- Postfix with OpenDKIM and OpenDMARC: one field per filter, same authserv-id; OpenDKIM's
  ``(2048-bit key; unprotected)`` comment holds a semicolon.
"""

GMAIL = (
    "mx.google.com;\r\n"
    "       dkim=pass header.i=@firma.pl header.s=20230601 header.b=Xy1+ab/Q;\r\n"
    "       arc=pass (i=1 spf=pass spfdomain=firma.pl dkim=pass dkdomain=firma.pl dmarc=pass\r\n"
    " fromdomain=firma.pl);\r\n"
    "       spf=pass (google.com: domain of faktury@firma.pl designates 192.0.2.10 as permitted sender)"
    " smtp.mailfrom=faktury@firma.pl;\r\n"
    "       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=firma.pl"
)
EXCHANGE_PASS = (
    "spf=pass (sender IP is 192.0.2.10)\r\n smtp.mailfrom=firma.pl; dkim=pass (signature was verified)\r\n"
    " header.d=firma.pl;dmarc=pass action=none header.from=firma.pl;compauth=pass\r\n reason=100"
)
EXCHANGE_UNSIGNED = (
    "spf=none (sender IP is 192.0.2.10) smtp.mailfrom=firma.pl; dkim=none (message not signed)"
    " header.d=none;dmarc=none action=none header.from=firma.pl;compauth=fail reason=001"
)
EXCHANGE_BESTGUESS = (
    "spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=firma.pl; dkim=none (message not signed)"
    " header.d=none;dmarc=bestguesspass action=none header.from=firma.pl;compauth=pass reason=109"
)
EXCHANGE_FAIL = (
    "spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=firma.pl; dkim=fail (body hash did not verify)"
    " header.d=firma.pl;dmarc=fail action=oreject header.from=firma.pl;compauth=fail reason=000"
)
RSPAMD_PASS = (
    "mx.serwer-poczty.pl;\n"
    '\tdkim=pass header.d=firma.pl header.s=dkim header.b="Ab/Cd+Ef";\n'
    "\tspf=pass (mx.serwer-poczty.pl: domain of faktury@firma.pl designates 192.0.2.10 as permitted sender)"
    " smtp.mailfrom=faktury@firma.pl;\n"
    "\tdmarc=pass (policy=reject) header.from=firma.pl"
)
RSPAMD_FAIL = (
    "mx.serwer-poczty.pl; dkim=fail (body hash did not verify) header.d=firma.pl header.s=dkim"
    " header.b=Ab12Cd34; spf=fail (mx.serwer-poczty.pl: domain of faktury@firma.pl does not designate"
    ' 198.51.100.7 as permitted sender) smtp.mailfrom=faktury@firma.pl; dmarc=fail reason="No valid SPF,'
    ' No valid DKIM" header.from=firma.pl (policy=reject)'
)
OPENDMARC_NONE = "poczta.biuro.pl; dmarc=none (p=none dis=none) header.from=firma.com.pl"
OPENDKIM_PASS = (
    "poczta.biuro.pl;\n\tdkim=pass (2048-bit key; unprotected) header.d=firma.com.pl"
    " header.i=@firma.com.pl header.a=rsa-sha256 header.s=mail header.b=AbCdEf12"
)
SPF_PASS = "poczta.biuro.pl; spf=pass (sender SPF authorized) smtp.mailfrom=faktury@firma.com.pl"
