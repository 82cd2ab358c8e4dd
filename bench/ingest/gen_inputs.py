#!/usr/bin/python3
"""Larger inputs for bench/ingest: ~8 MB of plain text, ~8 MB of HTML and a
DOCX whose document.xml is ~8 MB (written with zipfile, as Word would).
    gen_inputs.py OUTDIR"""
import os
import random
import sys
import zipfile

out = sys.argv[1]
rng = random.Random(1)
W = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec "
     "romeo sierra tango search vector index model token chunk page video document 검색 문서 日本語の文章").split()


def paras(total):
    n = 0
    while n < total:
        p = " ".join(" ".join(rng.choice(W) for _ in range(rng.randint(6, 16))).capitalize() + "."
                     for _ in range(rng.randint(2, 8)))
        n += len(p.encode()) + 2
        yield p


with open(os.path.join(out, "bench.txt"), "w", encoding="utf-8") as f:
    f.write("\n\n".join(paras(8 << 20)))
with open(os.path.join(out, "bench.html"), "w", encoding="utf-8") as f:
    f.write("<!DOCTYPE html><html><head><title>bench</title><style>p{}</style></head><body>\n")
    for i, p in enumerate(paras(8 << 20)):
        f.write(("<h2>Section %d</h2>\n" % i if i % 20 == 0 else "") + "<p>" + p + "</p>\n")
    f.write("</body></html>\n")
NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
body = []
for i, p in enumerate(paras(7 << 20)):
    body.append('<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>' % p)
    if i % 50 == 0:
        body.append("<w:tbl>" + "".join("<w:tr>" + "".join("<w:tc><w:p><w:r><w:t>c%d%d</w:t></w:r></w:p></w:tc>" % (r, c)
                                                           for c in range(4)) + "</w:tr>" for r in range(3)) + "</w:tbl>")
with zipfile.ZipFile(os.path.join(out, "bench.docx"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("[Content_Types].xml", "<Types/>")
    z.writestr("word/document.xml", "<w:document %s><w:body>%s</w:body></w:document>" % (NS, "".join(body)))
