"""Write pages into a WARC with warcio: how the bundled sample was made, and how tests build WARCs.

The bundled ``codeflow/data/sample/warc/python-docs.warc.gz`` holds real pages of Debian's ``python3.11-doc``
package (Python documentation, PSF licence), written as HTTP response records under their docs.python.org
URLs, plus two real non-HTML files from the same package (a ``.js`` and a ``.txt`` source) so the funnel has a
``not_html`` branch. Rebuild it with::

    apt-get download python3.11-doc && dpkg-deb -x python3.11-doc_*.deb /tmp/pydoc
    python -m codeflow.demo.warc /tmp/pydoc/usr/share/doc/python3.11/html \
        codeflow/data/sample/warc/python-docs.warc.gz

Record ids and dates are derived from the URL, so the same pages give the same records.
"""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

DATE = "2025-01-15T00:00:00Z"
BASE_URL = "https://docs.python.org/3.11/"
# Tutorial, how-tos, FAQs and a few library pages: real prose around real code blocks.
SAMPLE_PAGES = (
    "tutorial/introduction.html", "tutorial/controlflow.html", "tutorial/datastructures.html",
    "tutorial/modules.html", "tutorial/inputoutput.html", "tutorial/errors.html", "tutorial/classes.html",
    "tutorial/stdlib.html", "tutorial/stdlib2.html", "tutorial/venv.html", "tutorial/floatingpoint.html",
    "tutorial/interpreter.html", "tutorial/appetite.html", "tutorial/whatnow.html", "tutorial/index.html",
    "howto/sorting.html", "howto/logging.html", "howto/argparse.html", "howto/functional.html",
    "howto/regex.html", "howto/unicode.html", "howto/descriptor.html", "howto/enum.html",
    "faq/programming.html", "faq/design.html", "faq/general.html",
    "library/itertools.html", "library/functools.html", "library/collections.html", "library/pathlib.html",
    "library/json.html", "library/csv.html", "library/dataclasses.html", "library/contextlib.html",
    "library/textwrap.html", "library/bisect.html", "genindex-X.html", "py-modindex.html",
)
SAMPLE_OTHER = (("_static/doctools.js", "application/javascript"),
                ("_sources/tutorial/appetite.rst.txt", "text/plain; charset=utf-8"))


def record_id(url: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>"


def write_response(writer: WARCWriter, url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                   status: str = "200 OK", extra_http: Iterable[tuple[str, str]] = ()) -> None:
    """One HTTP response record with a stable id and date."""
    http = StatusAndHeaders(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                     *extra_http], protocol="HTTP/1.1")
    rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                    warc_headers_dict={"WARC-Record-ID": record_id(url), "WARC-Date": DATE})
    writer.write_record(rec)


def write_sample(html_root: str, out: str) -> int:
    root = Path(html_root)
    n = 0
    with open(out, "wb") as f:
        writer = WARCWriter(f, gzip=out.endswith(".gz"))
        for rel in SAMPLE_PAGES:
            if (root / rel).exists():
                write_response(writer, BASE_URL + rel, (root / rel).read_bytes())
                n += 1
        for rel, ctype in SAMPLE_OTHER:
            if (root / rel).exists():
                write_response(writer, BASE_URL + rel, (root / rel).read_bytes(), ctype)
                n += 1
    return n


if __name__ == "__main__":
    print(write_sample(sys.argv[1], sys.argv[2]), "records written")
