"""Common Crawl cleaning: WARC records -> clean text documents + byte-exact code blocks.

One module per job: ``warc`` reads records (warcio, with resync after damage), ``decode`` turns payload bytes
into text, ``html`` extracts main text (trafilatura) and code blocks (``<pre>``/``<code>``), ``codelang``
guesses a code block's language, ``rules`` holds the named regex cleaning rules, ``lid`` is fastText
language ID, ``quality`` the Gopher / C4 / FineWeb heuristics, ``pipeline`` ties them into the funnel for one
record, ``stage`` is the multi-output unit job both engines run, and ``report`` draws the funnel.
"""
