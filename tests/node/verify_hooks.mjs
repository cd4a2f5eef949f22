// Verifies forwarded events with the Standard Webhooks specification's own library
// (npm's standardwebhooks), independently of wabactl's signing code. Reads JSON on stdin:
// {"secret": "whsec_...", "deliveries": [{"headers": {...}, "body": "..."}]}, and prints one
// line per delivery: "ok <webhook-id>" or "bad <webhook-id> <reason>". Exits 0 when every
// delivery verified, 1 otherwise.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { secret, deliveries } = JSON.parse(input);
const wh = new Webhook(secret);
let failed = 0;
for (const d of deliveries) {
  const id = d.headers["webhook-id"];
  try {
    const payload = wh.verify(d.body, d.headers);
    if (String(payload.id) !== id) throw new Error(`body id ${payload.id} is not webhook-id`);
    console.log(`ok ${id}`);
  } catch (e) {
    failed++;
    console.log(`bad ${id} ${e.message}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
