"""The PostgreSQL outbox keeps no raw request once the queue has it, prunes
rows left behind after HEIMDEX_OUTBOX_RETENTION_SEC, and a create that fails
inside a batch of concurrent creates fails alone. Its own file (and ctest) so
test_prod.py stays within its timeout on a loaded machine."""
import threading
import time

import hx
from hx import check


def test_outbox_retention(binary):
    """The outbox keeps no raw request once the queue has it: a row is deleted
    when published, and rows left behind (e.g. by an older version) are pruned
    after HEIMDEX_OUTBOX_RETENTION_SEC; a fresh row stays until then. Also: a
    request that fails inside a batch of concurrent creates fails alone."""
    c = hx.Cluster(binary, apis=1, workers=1, env={"HEIMDEX_OUTBOX_RETENTION_SEC": "2"}).start()
    try:
        tok = hx.make_token()
        st, r = c.req("POST", "/vectors/mock", {"asset_id": "ret", "segment_id": "s0"}, tok)
        check(st == 200 and c.wait_job(r["job_id"], tok)["status"] == "completed", "job", st, r)
        check(c.sql("SELECT count(*) FROM outbox")[0][0] == 0, "outbox row gone once published")
        jid = r["job_id"]
        c.sql("INSERT INTO outbox(job_id, task_name, payload, sent_at, created_at) VALUES"
              " (?, 'mock_embedding', '{\"kwargs\":{\"text\":\"old secret\"}}', NOW() - interval '2 hours',"
              "  NOW() - interval '2 hours'),"
              " (?, 'mock_embedding', '{\"kwargs\":{\"text\":\"fresh\"}}', NOW(), NOW() + interval '1 hour')",
              (jid, jid))
        deadline = time.time() + 15
        while time.time() < deadline and c.sql("SELECT count(*) FROM outbox WHERE payload::text LIKE '%old secret%'")[0][0]:
            time.sleep(0.2)
        rows = c.sql("SELECT payload::text FROM outbox")
        check(len(rows) == 1 and "fresh" in rows[0][0], "old row pruned, fresh row kept", rows)
        check(b"outbox_pruned" in open(c.apis[0].tmp + "/server.log", "rb").read(), "prune logged")

        # one request that cannot be stored (requested_by longer than the
        # column) among concurrent good ones: the good ones all succeed
        bad = hx.make_token(sub="x" * 300)
        results = []

        def go(i):
            results.append((i, c.req("POST", "/vectors/mock", {"asset_id": "batch", "segment_id": f"s{i}"},
                                     bad if i == 0 else tok)[0]))
        ts = [threading.Thread(target=go, args=(i,)) for i in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        good = sorted(st for i, st in results if i)
        check(good == [200] * 11, "good requests succeed beside a failing one", results)
        check(dict(results)[0] != 200, "the request that cannot be stored fails", results)
    finally:
        c.cleanup()


def main():
    a = hx.args()
    run = hx.Runner()
    run.run(test_outbox_retention, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
