"""Commit triplets (R_old, P, R_new): mine how repositories change, not what they look like.

Pipeline per repository (one unit): first-parent lifecycle of HEAD (``history``), seeded start commits inside
the lifecycle window, a per-commit scan with libgit2 (``scan``) classified by the filters (``paths``,
``messages``), a forward endpoint search with a documented score (``search``), and the triplet record with a
patch that ``git apply`` accepts (``assemble``, checked in process by ``patchapply``). ``stage`` wires it into
the runner; ``docs/triplets.md`` documents every rule and number.
"""
