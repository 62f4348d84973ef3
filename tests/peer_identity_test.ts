import assert from "node:assert/strict";
import { helloRefusal } from "../lib/server/peer_identity.ts";

Deno.test("helloRefusal() allows what the transport proved and refuses the rest", async (t) => {
  await t.step("no identity: every agency", () => assert.equal(helloRefusal({}, 7), undefined));
  await t.step("the certified agency", () => {
    assert.equal(helloRefusal({ certifiedAgency: 2 }, 2), undefined);
  });
  await t.step("another agency than the certified one", () => {
    assert.equal(
      helloRefusal({ certifiedAgency: 2 }, 3),
      "the client certificate names agency 2, not 3",
    );
  });
  await t.step("a refusal for every hello", () => {
    assert.equal(helloRefusal({ helloRefusal: "TLS only" }, 1), "TLS only");
  });
});
