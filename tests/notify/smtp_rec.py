"""aiosmtpd handler for the notify tests: records every accepted message
(envelope and raw bytes) as one JSON line in $SMTP_REC_FILE, and rejects
recipients whose local part starts with "reject" the way a real server
does, so the exact SMTP error can be checked."""
import base64
import json
import os


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rec = {"from": envelope.mail_from, "rcpt": envelope.rcpt_tos,
               "data": base64.b64encode(envelope.original_content or envelope.content).decode()}
        with open(os.environ["SMTP_REC_FILE"], "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return "250 Message accepted for delivery"
