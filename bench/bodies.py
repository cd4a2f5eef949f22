#!/usr/bin/env python3
"""Signed webhook deliveries for the benches, every one with its own ids. KIND "mixed" (the
default): 25 % inbound text messages, 75 % status updates; "text": inbound texts only;
"image": inbound photos only (media ids "benchmedia<n>", bench/media_graph.mjs serves them).
Writes FILES files DIR/bodies-<n>.txt of PER_FILE lines each,
"sha256=<hex HMAC of the body>\\t<body>".

    bench/bodies.py DIR APP_SECRET PHONE_NUMBER_ID FILES PER_FILE [KIND]
"""
import hashlib
import hmac
import json
import sys
import time

work, secret, number = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
files, per_file = int(sys.argv[4]), int(sys.argv[5])
kind = sys.argv[6] if len(sys.argv) > 6 else "mixed"
# Photos carry today's time: Meta's media id lives 7 days from the message.
base = int(time.time()) - 60 if kind == "image" else 1764000000


def envelope(value):
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550000000", "phone_number_id": number}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]}


for t in range(files):
    with open(f"{work}/bodies-{t}.txt", "w") as out:
        for i in range(per_file):
            n = t * per_file + i
            ts = str(base + n // 100)
            phone = f"1555{n % 10000:07d}"
            contacts = [{"profile": {"name": f"Customer {n % 10000}"}, "wa_id": phone}]
            if kind == "image":
                body = envelope({"contacts": contacts,
                                 "messages": [{"from": phone, "id": f"wamid.BENCHIN{n:010d}", "timestamp": ts,
                                               "type": "image",
                                               "image": {"id": f"benchmedia{n}", "mime_type": "image/jpeg",
                                                         "caption": f"Receipt {n}"}}]})
            elif kind == "text" or i % 4 == 0:
                body = envelope({"contacts": contacts,
                                 "messages": [{"from": phone, "id": f"wamid.BENCHIN{n:010d}", "timestamp": ts,
                                               "type": "text", "text": {"body": f"Hello, this is message {n}"}}]})
            else:
                body = envelope({"statuses": [{"id": f"wamid.BENCHOUT{n // 3:010d}",
                                               "status": ("sent", "delivered", "read")[n % 3],
                                               "timestamp": ts, "recipient_id": f"1555{n % 10000:07d}"}]})
            raw = json.dumps(body, separators=(",", ":"))
            sig = hmac.new(secret, raw.encode(), hashlib.sha256).hexdigest()
            out.write(f"sha256={sig}\t{raw}\n")
